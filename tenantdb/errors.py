"""Errors the CLI turns into one line and an exit code (ground floor: imports nothing of ours).

- :class:`UsageError`: bad input (arguments, settings, a slug, a DSN): exit 2.
- :class:`ToolkitError`: the world said no at run time (unreachable, denied): exit 1.

Messages are one line, name the field or value, say how to fix it, and never
hold a secret.
"""


class UsageError(Exception):
    """Bad input: exit code 2, nothing done."""

    exit_code = 2


class ToolkitError(Exception):
    """A run-time failure: exit code 1."""

    exit_code = 1
