"""The SQL `tenantdb migrate` runs around a team's revisions (sql/migrate/*.sql), one function per file.

Each query is one round trip; none depends on Alembic, so `tenant list` can
show revisions without the migrations extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from tenantdb.database import connection as db
from tenantdb.database.sqlfiles import load, sql_dir
from tenantdb.settings import Settings

VERSION_TABLE = "alembic_version"
"""Alembic's version table, inside each tenant schema (always allowed without tenant_id)."""

LOCK_CLASS = 0x7464_6D67  # "tdmg": the first key of the per-tenant advisory lock
LOCK_TIMEOUT = "60s"
"""How long a tenant's migration waits for a lock (the advisory lock of another run, a table in use)."""


def _file(name: str, **values: sql.Composable) -> sql.Composed:
    return load(Path(sql_dir()) / "migrate" / name, values)


@dataclass(frozen=True)
class TenantVersion:
    """A registered tenant and the revisions its version table holds (None: no version table)."""

    slug: str
    schema: str
    tenant_id: str
    schema_exists: bool
    versions: tuple[str, ...] | None


def versions(conn: psycopg.Connection, s: Settings, slugs: list[str] | None = None) -> list[TenantVersion]:
    """Every registered tenant (or ``slugs``) with its Alembic revision(s): one query."""
    query = _file("versions.sql", registry=sql.Identifier(s.tenancy_schema, "tenants"))
    rows = db.fetch_all_dicts(conn, query, {"slugs": slugs, "version_table": VERSION_TABLE})
    return [TenantVersion(r["slug"], r["schema"], r["tenant_id"], r["schema_exists"],
                          None if r["versions"] is None else tuple(r["versions"])) for r in rows]


def headroom(conn: psycopg.Connection) -> int:
    row = conn.execute(_file("headroom.sql")).fetchone()
    return int(row[0]) if row else 0


def session(s: Settings, schema: str) -> sql.Composed:
    """SET ROLE to the migrator and the pinned search_path (no parameters: two statements)."""
    return _file("session.sql", migrator_role=sql.Identifier(s.migrator_role), tenant_schema=sql.Identifier(schema))


def begin(conn: psycopg.Connection, s: Settings, schema: str, tenant_id: str) -> None:
    conn.execute(_file("begin.sql"), {"lock_timeout": LOCK_TIMEOUT, "lock_class": LOCK_CLASS, "schema": schema,
                                      "tenant_setting": s.tenant_setting, "tenant_id": tenant_id})


def allowed_untenanted(s: Settings) -> list[str]:
    return [VERSION_TABLE, *s.untenanted_tables]


def isolate(conn: psycopg.Connection, s: Settings, schema: str) -> tuple[int, list[str]]:
    """(tables isolated now, tables refused for having no tenant_id)."""
    row = conn.execute(_file("isolate.sql", tenancy=sql.Identifier(s.tenancy_schema)),
                       {"schema": schema, "allowed": allowed_untenanted(s)}).fetchone()
    assert row is not None
    return int(row[0]), list(row[1])


def posture(conn: psycopg.Connection, s: Settings, schemas: list[str]) -> list[dict[str, Any]]:
    """Findings ``{schema, table, problem}`` over ``schemas``; empty when every table is isolated."""
    query = _file("posture.sql", tenancy=sql.Identifier(s.tenancy_schema), tenancy_name=sql.Literal(s.tenancy_schema))
    rows = conn.execute(query, {"schemas": schemas, "app": s.app_role, "allowed": allowed_untenanted(s)}).fetchall()
    return [{"schema": r[0], "table": r[1], "problem": r[2]} for r in rows]
