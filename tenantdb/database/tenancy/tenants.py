"""`tenantdb tenant create|list|drop`: tenant schemas and the tenant registry.

A tenant is a schema ``tenant_<slug>`` owned by the migrator (so the
application's migrations own its tables, never app_user), a row in
``tenancy.tenants`` (its uuid is the value of app.current_tenant and of every
tenant_id), USAGE for app_user and platform_admin, and default privileges so
every table the migrator creates there gives them SELECT, INSERT, UPDATE,
DELETE and nothing else, and its sequences give app_user nothing
(:func:`tenantdb.database.bootstrap.roles.tenant_schema`).

Slugs are validated before any connection is made (:mod:`tenantdb.database.tenancy.slugs`):
bad input is exit 2 with nothing created. Each command runs in one
transaction as the master, so a failure changes nothing.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import locks
from tenantdb.database.bootstrap import roles
from tenantdb.database.plumbing import sqlfiles
from tenantdb.database.plumbing.master import resolve_master
from tenantdb.database.tenancy.slugs import schema_name
from tenantdb.errors import ToolkitError, UsageError
from tenantdb.settings import Settings



# ----- connection -------------------------------------------------------------

def _target(s: Settings, endpoint: str | None, master_dsn: str | None) -> db.Target:
    return resolve_master(s, endpoint=endpoint, master_dsn=master_dsn).target.with_db(s.db_name)


def _connect(s: Settings, endpoint: str | None, master_dsn: str | None,
             target: db.Target | None = None) -> psycopg.Connection:
    return db.connect(target or _target(s, endpoint, master_dsn), s, application_name="tenantdb-tenant")


def _registry(s: Settings) -> sql.Composable:
    return sql.Identifier(s.tenancy_schema, "tenants")


def _require_registry(conn: psycopg.Connection, s: Settings) -> None:
    row = conn.execute(sqlfiles.named("tenants/registry_exists"), (s.tenancy_schema,)).fetchone()
    if not row or not row[0]:
        raise ToolkitError(f"{s.db_name} has no tenant registry ({s.tenancy_schema}.tenants); "
                           f"run `tenantdb bootstrap --env {s.environment}` first")


def _lookup(conn: psycopg.Connection, s: Settings, slug: str) -> dict[str, Any]:
    query = sqlfiles.named("tenants/lookup", {"registry": _registry(s)})
    row = db.fetch_one_dict(conn, query, {"slug": slug, "schema": schema_name(s, slug)})
    assert row is not None
    return row


# ----- create -------------------------------------------------------------------

def create(s: Settings, slug: str, *, endpoint: str | None = None, master_dsn: str | None = None) -> str:
    """Create tenant ``slug``; returns its id. An existing tenant is an error that changes nothing."""
    schema = schema_name(s, slug)
    with _connect(s, endpoint, master_dsn) as conn:
        try:
            with conn.transaction():
                _require_registry(conn, s)
                found = _lookup(conn, s, slug)
                if found["tenant_id"] or found["schema_exists"]:
                    raise ToolkitError(_exists_message(s, slug, schema, found))
                conn.execute(sql.SQL(";\n").join(roles.tenant_schema_sql(s, schema)))
                row = conn.execute(sqlfiles.named("tenants/register", {"registry": _registry(s)}),
                                   (slug, schema)).fetchone()
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateSchema):
            # Another `tenant create` of the same slug committed first; ours rolled back.
            raise ToolkitError(f"tenant {slug!r} already exists (created concurrently); nothing changed") from None
        except psycopg.Error as exc:
            raise ToolkitError(f"tenant create {slug}: {db.first_line(exc)}; nothing changed") from None
    assert row is not None
    if s.tenant_migrations:  # the new tenant reaches head before anyone uses it
        from tenantdb.database.migrate import bring_to_head

        try:
            bring_to_head(s, [slug], endpoint=endpoint, master_dsn=master_dsn)
        except (ToolkitError, UsageError) as exc:
            raise ToolkitError(f"tenant {slug!r} created (id {row[0]}), not migrated: {exc}") from None
    return str(row[0])


def _exists_message(s: Settings, slug: str, schema: str, found: dict[str, Any]) -> str:
    if found["tenant_id"]:
        return (f"tenant {slug!r} already exists (id {found['tenant_id']}, schema {schema}); nothing changed")
    return (f"schema {schema} exists but is not in {s.tenancy_schema}.tenants; nothing changed "
            f"(drop it with `tenantdb tenant drop {slug} --confirm {slug}` or rename it)")


# ----- list ---------------------------------------------------------------------

def list_tenants(s: Settings, *, endpoint: str | None = None, master_dsn: str | None = None) -> list[dict[str, Any]]:
    """Every registered tenant with its table count (the version table not counted), how many of
    those are isolated, and ``revisions``, the registry's record of its migrations (None: not recorded
    yet). One query; no tenant's own table is read."""
    with _connect(s, endpoint, master_dsn) as conn:
        _require_registry(conn, s)
        query = sqlfiles.named("tenants/list", {"registry": _registry(s)})
        try:
            return db.fetch_all_dicts(conn, query, {"version_table": roles.VERSION_TABLE})
        except psycopg.errors.UndefinedColumn as exc:  # a registry from before the revisions record
            raise ToolkitError(f"{s.tenancy_schema}.tenants: {db.first_line(exc)}; run `tenantdb bootstrap --env "
                               f"{s.environment}` first") from None


# ----- drop ---------------------------------------------------------------------

def drop(s: Settings, slug: str, *, confirm: str | None = None, endpoint: str | None = None,
         master_dsn: str | None = None) -> int:
    """Drop the tenant's schema (and everything in it) and its registry row, once confirmed.

    Without ``confirm == slug`` it says what it would drop and refuses (exit 2).
    Objects outside the schema that depend on it (views, foreign keys, ...: sql/tenants/pins.sql)
    stop it, each named with its owner: CASCADE would silently drop them.
    """
    schema = schema_name(s, slug)
    if confirm is not None and confirm != slug:
        raise UsageError(f"--confirm {confirm!r} does not match the slug {slug!r}; nothing dropped")
    target = _target(s, endpoint, master_dsn)
    with _connect(s, endpoint, master_dsn, target) as conn:
        with conn.transaction():
            _require_registry(conn, s)
            found = _lookup(conn, s, slug)
            if not found["tenant_id"] and not found["schema_exists"]:
                raise ToolkitError(f"no tenant {slug!r}: not in {s.tenancy_schema}.tenants and no schema {schema}")
            contents = db.fetch_one_dict(conn, sqlfiles.named("tenants/contents"), (schema,)) or {}
            what = _describe(s, schema, found, contents)
            if confirm is None:
                raise UsageError(f"refusing to drop tenant {slug!r} without confirmation: it would drop {what}; "
                                 f"repeat the slug: --confirm {slug}")
            pins = (db.fetch_one_dict(conn, sqlfiles.named("tenants/pins"), {"schema": schema}) or {}).get("pins")
            if pins:
                raise ToolkitError(f"objects outside {schema} depend on it: {', '.join(sorted(pins))}; drop or "
                                   "change them first (their owner can); nothing dropped")
            wait = f"{s.toolkit_lock_timeout_s:g}s"  # how long the tenant's tables may stay in use
            conn.execute(sqlfiles.named("tenants/drop_lock_timeout", {"lock_timeout": sql.Literal(wait)}))
            try:
                with locks.Watch(target, s, conn, f"tenant drop {slug}") as watch:
                    if found["schema_exists"]:
                        conn.execute(sqlfiles.named("tenants/drop_schema", {"schema": sql.Identifier(schema)}))
                    conn.execute(sqlfiles.named("tenants/unregister", {"registry": _registry(s)}), (slug,))
            except psycopg.errors.LockNotAvailable:
                raise ToolkitError(f"{schema}'s tables stayed in use for {wait}{watch.explain()}; "
                                   "retry when the application is idle; nothing dropped") from None
    print(f"dropped {what}")
    return 0


def _describe(s: Settings, schema: str, found: dict[str, Any], contents: dict[str, Any]) -> str:
    rels = contents.get("relations") or []
    shown = ", ".join(rels[:10]) + (f" and {len(rels) - 10} more" if len(rels) > 10 else "")
    parts = []
    if found["schema_exists"]:
        parts.append(f"schema {schema} with {len(rels)} relation(s)" + (f" ({shown})" if rels else ""))
    if found["tenant_id"]:
        parts.append(f"registry row {found['tenant_id']} in {s.tenancy_schema}.tenants")
    return " and ".join(parts)


SAMPLE_TABLE = "projects"
"""The sample set's table each sample tenant gets one row in (migrations/tenant, 0002_projects); the
sample tenants themselves are the local environment's (tenantdb/local/samples.py)."""
