"""The settings of the tenants: how the application names its tenant to row security (Story 0.4 Red
Team requirements), the extensions the bootstrap creates, and tenant migrations (Story 1.3).

A group of fields :class:`tenantdb.settings.Settings` is made of; never built on its own.

Ground floor: this module imports only ground-floor modules (aws_reference, settings_rules).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from tenantdb.aws_reference import RDS_EXTENSIONS
from tenantdb.settings_rules import secret_name


class TenancySettings(BaseModel):
    """The tenant context, the extensions and the tenant migrations."""

    # ----- tenant context (Story 0.4 Red Team requirements) ----------------
    tenant_context: Literal["plain", "signed"] = "plain"
    """How the application names its tenant to row security. ``plain``: the tenant id itself, set with
    ``SELECT tenancy.set_tenant($1)``; anyone who runs SQL as app_user may name any id. ``signed``: a
    token (tenant id, expiry, MAC under a key app_user cannot read), set through the same helper; a
    forged, tampered or expired token names no tenant. @default "plain" @see Story 0.4 Red Team
    requirements (NO BYPASSRLS), docs/security.md (signed tenant context)."""

    context_key_secret_name: str = "qualisys/database/context-key"
    """Secret holding the signing key of the tenant context (signed mode), encrypted with the secrets
    CMK and readable through the application's IRSA policy. @default "qualisys/database/context-key"
    @see docs/security.md (signed tenant context)."""

    context_key_rotation_days: int = Field(90, ge=1, le=365)
    """How often the bootstrap rotates the context signing key (the previous key stays valid for one
    overlap of ``context_token_max_ttl_s``). @default 90 @see Story 0.4 task 6.3 (90-day rotation)."""

    context_token_max_ttl_s: int = Field(3600, ge=1, le=86400)
    """Longest lifetime a context token may have; also the overlap during which a retired key still
    verifies. @default 3600 @see docs/security.md (signed tenant context)."""

    # ----- extensions (multi-tenant migrations README) ----------------------
    extensions: tuple[str, ...] = ("pg_stat_statements",)
    """Extensions the bootstrap creates in ``db_name``; each must be one RDS PostgreSQL offers for the
    engine major. @default pg_stat_statements @see Story 0.4 task 3 (pg_stat_statements), the
    multi-tenant migrations README (uuid-ossp, pgcrypto, citext, btree_gist, vector),
    AWS "Extensions supported for RDS for PostgreSQL 15"."""

    # ----- tenant migrations (Story 1.3) ------------------------------------
    tenant_migrations: str | None = None
    """Alembic script directory `tenantdb migrate` runs in every tenant schema (project-relative or
    absolute). @default none (`--migrations DIR`); local: the sample set migrations/tenant
    @see Story 1.3 (Alembic migrations of the core tables), the multi-tenant migrations README."""

    untenanted_tables: tuple[str, ...] = ()
    """Tables a tenant schema may hold without a tenant_id column (besides Alembic's version table);
    any other such table fails the tenant's migration. @default none @see Story 1.3 (every table has
    tenant_id)."""

    # ----- validation -------------------------------------------------------
    @field_validator("context_key_secret_name")
    @classmethod
    def _context_key_name(cls, v: str) -> str:
        return secret_name(v)

    @field_validator("extensions")
    @classmethod
    def _extensions(cls, v: tuple[str, ...], info: Any) -> tuple[str, ...]:
        # A newer major without its own list is held to the newest list there is.
        major = min(info.data.get("engine_major", 15), max(RDS_EXTENSIONS))
        unknown = [name for name in v if name not in RDS_EXTENSIONS[major]]
        if unknown:
            hint = " (pgvector's extension is named vector)" if unknown[0] == "pgvector" else ""
            raise ValueError(f"{unknown[0]!r} is not an extension RDS for PostgreSQL {major} offers{hint}; "
                             "use names from tenantdb.aws_reference.RDS_EXTENSIONS, e.g. uuid-ossp, pgcrypto, vector")
        if len(set(v)) != len(v):
            raise ValueError("names an extension twice")
        return v
