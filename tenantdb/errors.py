"""The one error hierarchy, which the CLI turns into one line and an exit code (the ground floor's
base: imports nothing of ours, and the other ground-floor modules may import it).

- :class:`TenantdbError`: every error of the toolkit; ``exit_code`` says which.
- :class:`UsageError`: bad input (arguments, settings, a slug, a DSN): exit 2.
- :class:`ToolkitError`: the world said no at run time (unreachable, denied): exit 1.

Every other error class of the package derives from one of the two (SettingsError
from UsageError; a cluster, token, plan-format, batch or refused-tenant error
from ToolkitError), so the CLI maps them in one place. Messages are one line,
name the field or value, say how to fix it, and never hold a secret.
"""


class TenantdbError(Exception):
    """Any error of the toolkit: one line, and the exit code it ends a command with."""

    exit_code = 1


class UsageError(TenantdbError):
    """Bad input: exit code 2, nothing done."""

    exit_code = 2


class ToolkitError(TenantdbError):
    """A run-time failure: exit code 1."""

    exit_code = 1


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none: what every
    one-line report of a failure (an ERROR check, the CLI's last word) shows."""
    text = str(exc).strip()
    return text.splitlines()[0].strip() if text else type(exc).__name__
