"""The settings of the master database, its roles and its schemas (AC7, AC8, Story 1.3), with the rules
that hold them.

A group of fields :class:`tenantdb.settings.Settings` is made of; never built on its own.

Ground floor: this module imports only ground-floor modules (settings_rules).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, field_validator

from tenantdb.settings_rules import FieldError, identifier


class DatabaseSettings(BaseModel):
    """The database's fields: its name, the toolkit's schema, the tenant setting and every role."""

    # ----- database and roles (AC7, AC8) ------------------------------------
    db_name: str = "qualisys_master"
    """The master database. @default "qualisys_master" @see AC7."""

    app_role: str = "app_user"
    """The application's runtime role. @default "app_user" @see AC8."""

    app_create_on_database: bool = True
    """Grant app_user CREATE on the database (schema creation). @default true @see AC8; off is the
    stricter profile where only the migrator does DDL (docs/tenancy.md)."""

    migrator_role: str = "app_migrator"
    """Owner of tenant objects; the role migrations run as.
    @default "app_migrator" @see Story 1.3 (Alembic migrations), docs/tenancy.md."""

    platform_admin_role: str = "platform_admin"
    """NOLOGIN role that reaches every tenant through explicit policies.
    @default "platform_admin" @see Story 1.3 uber admin."""

    reporting_role: str = "app_reporting"
    """NOLOGIN read-only role for reporting: SELECT on every table and sequence the migrator creates,
    still under row security (one tenant at a time). Grant it to reporting logins. @default "app_reporting"
    @see the declarative database access design (read-only reporting user)."""

    platform_admin_members: tuple[str, ...] = ()
    """Existing login roles granted platform_admin. @default none @see Story 1.3 uber admin."""

    tenancy_schema: str = "tenancy"
    """The toolkit's own schema (current_tenant_id(), the tenant registry).
    @default "tenancy" @see Story 0.4 RLS policy pattern."""

    tenant_setting: str = "app.current_tenant"
    """The session setting that carries the tenant id.
    @default "app.current_tenant" @see Story 0.4 RLS policy pattern."""

    tenant_schema_prefix: str = "tenant_"
    """Prefix of every tenant schema, ``tenant_<slug>``. @default "tenant_" @see Story 0.4 schema structure."""

    sample_tenants: tuple[str, ...] = ()
    """Tenants `local up` creates, each with one isolated sample table, so verify shows isolation on
    real tenants. @default none; local: acme, globex @see Story 1.3 (cross-tenant tests with sample tenants)."""

    aws_internal_roles: tuple[str, ...] = ("rdsadmin", "rdsrepladmin", "rdstopmgr")
    """Roles the database's operator owns, allowed SUPERUSER/BYPASSRLS besides the master (ISO-SUPERUSER).
    @default RDS's own (rdsadmin, rdsrepladmin, rdstopmgr); local adds "postgres", the local
    cluster's initdb superuser that plays rdsadmin
    @see verify ISO-SUPERUSER, AWS RDS "Understanding PostgreSQL roles"."""

    # ----- validation -------------------------------------------------------
    @field_validator("db_name", "app_role", "migrator_role", "platform_admin_role", "tenancy_schema",
                     "reporting_role")
    @classmethod
    def _identifiers(cls, v: str) -> str:
        return identifier(v)

    @field_validator("tenant_schema_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", v, re.ASCII):
            raise ValueError("must be 1-32 lower-case letters, digits and _, starting with a letter (e.g. tenant_)")
        return v

    # ----- cross-field rules (Settings runs them, in the order it reports them) -----
    def _app_role_not_an_admin(self) -> None:
        if self.app_role in self.platform_admin_members:
            raise FieldError("platform_admin_members", self.platform_admin_members,
                             f"must not include app_role {self.app_role!r} (it would reach every tenant's rows)")
