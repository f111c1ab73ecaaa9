"""Tenant slugs: the one rule for what may name a tenant, and the schema a slug names.

Checked before any connection is made, so bad input is exit 2 with nothing
created. A module of its own, imported by tenants, the context-key tokens and
migrate's runner, so none of them has to import another for the rule.
"""

from __future__ import annotations

import re

from tenantdb.errors import UsageError
from tenantdb.settings import Settings

MAX_IDENTIFIER_BYTES = 63
"""PostgreSQL's NAMEDATALEN - 1: longer names are silently truncated, so two long slugs could collide."""

# ASCII only, on purpose: Unicode letters (a Cyrillic "а" that looks like "a") are refused.
_SLUG = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)


def max_slug_bytes(s: Settings) -> int:
    return MAX_IDENTIFIER_BYTES - len(s.tenant_schema_prefix.encode())


def validate_slug(s: Settings, slug: str) -> str:
    """``slug`` when it may name a tenant; else :class:`UsageError` (exit 2) naming the rule."""
    shown = ascii(slug if len(slug) <= 70 else slug[:67] + "...")
    if not _SLUG.fullmatch(slug):
        raise UsageError(f"tenant slug {shown}: use lower-case ASCII letters, digits and _, "
                         "starting with a letter (e.g. acme_corp)")
    limit = max_slug_bytes(s)
    if len(slug.encode()) > limit:
        raise UsageError(f"tenant slug {shown}: {len(slug.encode())} bytes; at most {limit}, so that "
                         f"{s.tenant_schema_prefix}<slug> fits PostgreSQL's {MAX_IDENTIFIER_BYTES}-byte names")
    return slug


def schema_name(s: Settings, slug: str) -> str:
    """The tenant's schema: the settings' prefix and the (validated) slug."""
    return s.tenant_schema_prefix + validate_slug(s, slug)
