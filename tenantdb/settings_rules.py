"""The settings' errors and the value rules more than one group of fields shares.

:class:`SettingsError` is the one line a bad value ends in; :class:`FieldError` names the field a
cross-field rule blames. Apart from tenantdb/settings.py so each group of fields
(tenantdb/settings_*.py) can use them without importing the model it is part of.

Ground floor: this module imports nothing of the project's but errors.py.
"""

from __future__ import annotations

import re
from typing import Any

from tenantdb.errors import UsageError

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Secrets Manager names: 1-512 of letters, digits and /_+=.@-
# @see https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")


class SettingsError(UsageError, ValueError):
    """A settings value is invalid (exit 2); ``str()`` is the one-line message."""


class FieldError(ValueError):
    """A cross-field rule broken by one named field."""

    def __init__(self, field: str, value: Any, rule: str):
        super().__init__(rule)
        self.field, self.value, self.rule = field, value, rule


def identifier(v: str) -> str:
    """A database object's name (a role, the database, a schema): what needs no quoting."""
    if not _IDENTIFIER.match(v):
        raise ValueError("must be lower-case letters, digits and _, starting with a letter, at most 63 bytes")
    return v


def secret_name(v: str) -> str:
    """A Secrets Manager secret name."""
    if not _SECRET_NAME.match(v) or v.startswith("/") or v.endswith("/"):
        raise ValueError("must be 1-512 of letters, digits and /_+=.@- with no leading or trailing / "
                         '(e.g. "qualisys/database/connection")')
    return v
