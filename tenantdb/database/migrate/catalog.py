"""The SQL `tenantdb migrate` runs around a team's revisions (sql/migrate/*.sql), one function per file.

Each query is one round trip; none depends on Alembic. Who is behind comes
from the registry's record (``tenancy.tenants.revisions``), never from the
tenants' own version tables, which only a worker reads, under the tenant's lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from tenantdb.database.plumbing import connection as db
from tenantdb.database.bootstrap.roles import VERSION_TABLE
from tenantdb.database.plumbing.sqlfiles import load, named, sql_dir
from tenantdb.settings import Settings

__all__ = ["VERSION_TABLE"]

LOCK_TIMEOUT_S = 60
"""How long a tenant's migration waits for a lock (its registry row held by another run, a table in use)."""

CONVERGE_MARKER = "tenantdb-converge"
"""The message of converge.sql's notices (sql/migrate/converge.sql)."""


def _file(name: str, **values: sql.Composable) -> sql.Composed:
    return load(Path(sql_dir()) / "migrate" / name, values)


def _registry(s: Settings) -> sql.Composable:
    return sql.Identifier(s.tenancy_schema, "tenants")


@dataclass(frozen=True)
class TenantVersion:
    """A registered tenant and the revisions the registry recorded for it (None: not recorded yet)."""

    slug: str
    schema: str
    tenant_id: str
    schema_exists: bool
    versions: tuple[str, ...] | None


def versions(conn: psycopg.Connection, s: Settings, slugs: list[str] | None = None) -> list[TenantVersion]:
    """Every registered tenant (or ``slugs``) with its recorded revision(s): one query over the registry."""
    rows = db.fetch_all_dicts(conn, _file("versions.sql", registry=_registry(s)), {"slugs": slugs})
    return [TenantVersion(r["slug"], r["schema"], r["tenant_id"], r["schema_exists"],
                          None if r["versions"] is None else tuple(sorted(r["versions"]))) for r in rows]


def headroom(conn: psycopg.Connection) -> int:
    row = conn.execute(_file("headroom.sql")).fetchone()
    return int(row[0]) if row else 0


def session(s: Settings, schema: str) -> sql.Composed:
    """SET ROLE to the migrator and the pinned search_path (no parameters: two statements)."""
    return _file("session.sql", migrator_role=sql.Identifier(s.migrator_role), tenant_schema=sql.Identifier(schema))


def begin(conn: psycopg.Connection, s: Settings, tenant_id: str, lock_timeout_s: int) -> None:
    """This transaction's lock_timeout and the tenant's context (plain or signed, made in the server)."""
    conn.execute(_file("begin.sql", tenancy=sql.Identifier(s.tenancy_schema)),
                 {"lock_timeout": f"{lock_timeout_s}s", "tenant_setting": s.tenant_setting, "tenant_id": tenant_id,
                  "statement_timeout": f"{int(s.migrate_statement_timeout_s * 1000)}ms"})


def context_held(conn: psycopg.Connection, s: Settings, tenant_id: str) -> bool:
    """Whether the tenant context of begin.sql still names the tenant (a signed one can lapse)."""
    row = conn.execute(_file("context_held.sql", tenancy=sql.Identifier(s.tenancy_schema)),
                       {"tenant_id": tenant_id}).fetchone()
    return bool(row and row[0])


def lock(conn: psycopg.Connection, s: Settings, tenant_id: str) -> tuple[bool, tuple[str, ...] | None]:
    """Lock the tenant's registry row until the transaction ends: (registered, its recorded revisions,
    sorted; None when not recorded yet)."""
    row = conn.execute(_file("lock.sql", registry=_registry(s)), {"tenant_id": tenant_id}).fetchone()
    if row is None:
        return False, None
    return True, None if row[0] is None else tuple(sorted(row[0]))


def version_table(conn: psycopg.Connection, schema: str) -> tuple[str, ...]:
    """The revisions in ``schema``'s Alembic version table, sorted; () without one (read only under the
    tenant's lock)."""
    row = conn.execute(_file("has_version_table.sql"), {"schema": schema, "version_table": VERSION_TABLE}).fetchone()
    if not row or not row[0]:
        return ()
    rows = conn.execute(_file("version_table.sql", version_table=sql.Identifier(schema, VERSION_TABLE))).fetchall()
    return tuple(str(r[0]) for r in rows)


def record(conn: psycopg.Connection, s: Settings, tenant_id: str, revisions: tuple[str, ...]) -> None:
    conn.execute(_file("record.sql", registry=_registry(s)), {"revisions": list(revisions), "tenant_id": tenant_id})


def isolate(conn: psycopg.Connection, s: Settings, schema: str) -> tuple[int, list[str], list[str]]:
    """(tables isolated now, tables refused for having no tenant_id, serial columns ``table.column``)."""
    row = conn.execute(_file("isolate.sql", tenancy=sql.Identifier(s.tenancy_schema)),
                       {"schema": schema, "untenanted": list(s.untenanted_tables),
                        "version_table": VERSION_TABLE}).fetchone()
    assert row is not None
    return int(row[0]), list(row[1]), list(row[2])


def converge(s: Settings, slugs: list[str] | None, lock_timeout_s: int, *, strict: bool) -> sql.Composed:
    """sql/migrate/converge.sql for ``slugs`` (None: every tenant); ``strict`` raises instead of reporting."""
    return _file("converge.sql", tenancy=sql.Identifier(s.tenancy_schema), app_role=sql.Literal(s.app_role),
                 admin_role=sql.Literal(s.platform_admin_role), version_table=sql.Literal(VERSION_TABLE),
                 untenanted=sql.Literal(list(s.untenanted_tables)), slugs=sql.Literal(slugs),
                 lock_timeout=sql.Literal(f"{lock_timeout_s}s"), strict=sql.Literal(strict),
                 marker=sql.Literal(CONVERGE_MARKER))


def pins(conn: psycopg.Connection, schema: str) -> list[str]:
    """Objects outside ``schema`` that depend on it, each with its owner (sql/tenants/pins.sql)."""
    row = conn.execute(named("tenants/pins"), {"schema": schema}).fetchone()
    return sorted(row[0] or []) if row else []


def posture(conn: psycopg.Connection, s: Settings, schemas: list[str]) -> list[dict[str, Any]]:
    """Findings ``{schema, table, problem}`` over ``schemas``; empty when every table is isolated."""
    query = _file("posture.sql", tenancy=sql.Identifier(s.tenancy_schema), tenancy_name=sql.Literal(s.tenancy_schema))
    rows = conn.execute(query, {"schemas": schemas, "app": s.app_role, "untenanted": list(s.untenanted_tables),
                                "version_table": VERSION_TABLE}).fetchall()
    return [{"schema": r[0], "table": r[1], "problem": r[2]} for r in rows]
