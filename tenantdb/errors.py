"""Errors the CLI turns into one line and an exit code (the ground floor's base: imports nothing of
ours, and the other ground-floor modules may import it).

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


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none: what every
    one-line report of a failure (an ERROR check, the CLI's last word) shows."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
