"""`tenantdb tenant create|list|drop`: tenant schemas and the tenant registry.

A tenant is a schema ``tenant_<slug>`` owned by the migrator (so the
application's migrations own its tables, never app_user), a row in
``tenancy.tenants`` (its uuid is the value of app.current_tenant and of every
tenant_id), USAGE for app_user and platform_admin, and default privileges so
every table the migrator creates there gives them SELECT, INSERT, UPDATE,
DELETE and nothing else (:func:`tenantdb.database.roles.tenant_schema`).

Slugs are validated before any connection is made (:func:`validate_slug`):
bad input is exit 2 with nothing created. Each command runs in one
transaction as the master, so a failure changes nothing.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from tenantdb.database import connection as db
from tenantdb.database import roles, sqlfiles
from tenantdb.database.master import resolve_master
from tenantdb import report
from tenantdb.errors import ToolkitError, UsageError
from tenantdb.settings import Settings

MAX_IDENTIFIER_BYTES = 63
"""PostgreSQL's NAMEDATALEN - 1: longer names are silently truncated, so two long slugs could collide."""

DROP_LOCK_TIMEOUT = "10s"
"""How long `tenant drop` waits for the tenant's tables to be free before giving up."""

# ASCII only, on purpose: Unicode letters (a Cyrillic "а" that looks like "a") are refused.
_SLUG = re.compile(r"[a-z][a-z0-9_]*", re.ASCII)


# ----- slugs ----------------------------------------------------------------------

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
    return s.tenant_schema_prefix + validate_slug(s, slug)


# ----- connection -------------------------------------------------------------

def _connect(s: Settings, endpoint: str | None, master_dsn: str | None) -> psycopg.Connection:
    mt = resolve_master(s, endpoint=endpoint, master_dsn=master_dsn)
    return db.connect(mt.target.with_db(s.db_name), s, application_name="tenantdb-tenant")


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
    """Every registered tenant with its table count and how many of those are isolated (one query)."""
    with _connect(s, endpoint, master_dsn) as conn:
        _require_registry(conn, s)
        from tenantdb.database.migrate import annotate  # revision and behind, one more query

        return annotate(conn, s, db.fetch_all_dicts(conn, sqlfiles.named("tenants/list", {"registry": _registry(s)})))


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """``json``: a list of objects; ``table``: fixed-width columns for people."""
    plain = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in rows]
    if fmt == "json":
        return json.dumps(plain, indent=2)
    if not plain:
        return "no tenants"
    cols = ("slug", "tenant_id", "schema", "tables", "isolated", "revision", "behind", "created_at")
    cells = [{c: report.plain(r[c]) for c in cols} for r in plain]  # true/false, none: no Python reprs
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in cols}
    lines = ["  ".join(c.ljust(widths[c]) for c in cols)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in cols) for r in cells]
    return "\n".join(line.rstrip() for line in lines)


# ----- drop ---------------------------------------------------------------------

def drop(s: Settings, slug: str, *, confirm: str | None = None, endpoint: str | None = None,
         master_dsn: str | None = None) -> int:
    """Drop the tenant's schema (and everything in it) and its registry row, once confirmed.

    Without ``confirm == slug`` it says what it would drop and refuses (exit 2).
    Objects outside the schema that depend on it (views, foreign keys) stop it:
    CASCADE would silently drop them.
    """
    schema = schema_name(s, slug)
    if confirm is not None and confirm != slug:
        raise UsageError(f"--confirm {confirm!r} does not match the slug {slug!r}; nothing dropped")
    with _connect(s, endpoint, master_dsn) as conn:
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
            outside = (contents.get("outside_views") or []) + (contents.get("outside_keys") or [])
            if outside:
                raise ToolkitError(f"objects outside {schema} depend on it ({', '.join(outside)}); "
                                   "drop or change them first; nothing dropped")
            conn.execute(sqlfiles.named("tenants/drop_lock_timeout", {"lock_timeout": sql.Literal(DROP_LOCK_TIMEOUT)}))
            try:
                if found["schema_exists"]:
                    conn.execute(sqlfiles.named("tenants/drop_schema", {"schema": sql.Identifier(schema)}))
                conn.execute(sqlfiles.named("tenants/unregister", {"registry": _registry(s)}), (slug,))
            except psycopg.errors.LockNotAvailable:
                raise ToolkitError(f"{schema}'s tables stayed in use for {DROP_LOCK_TIMEOUT}; "
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


# ----- sample tenants (local up) -----------------------------------------------------

SAMPLE_TABLE = "projects"
"""The sample set's table each sample tenant gets one row in (migrations/tenant, 0002_projects)."""

SAMPLE_MIGRATIONS = "migrations/tenant"
"""The sample migration set (Story 1.3's core tables, then projects), shipped with the package."""


def ensure_samples(s: Settings, *, endpoint: str | None = None, master_dsn: str | None = None) -> str:
    """Converge settings.sample_tenants: each exists, at the head of the tenant migrations (settings
    tenant_migrations, else the sample set) run by `tenantdb migrate` as the migrator, isolated by it,
    with one ``projects`` row of its own. A second run creates nothing. Returns a one-line note."""
    from tenantdb.database.migrate import bring_to_head, scripts

    created = [slug for slug in s.sample_tenants if _ensure_tenant(s, slug, endpoint, master_dsn)]
    if s.sample_tenants:
        where = str(scripts.resolve_dir(None, s.tenant_migrations or SAMPLE_MIGRATIONS))
        bring_to_head(s, list(s.sample_tenants), migrations=where, endpoint=endpoint, master_dsn=master_dsn)
    with _connect(s, endpoint, master_dsn) as conn:
        for slug in s.sample_tenants:
            _ensure_sample_table(conn, s, slug)
    names = ", ".join(s.sample_tenants) or "none"
    return f"sample tenants {names}" + (f" ({len(created)} created)" if created else " (as they were)")


def _ensure_tenant(s: Settings, slug: str, endpoint: str | None, master_dsn: str | None) -> bool:
    with _connect(s, endpoint, master_dsn) as conn:
        _require_registry(conn, s)
        if _lookup(conn, s, slug)["tenant_id"]:
            return False
    create(s, slug, endpoint=endpoint, master_dsn=master_dsn)
    return True


def _ensure_sample_table(conn: psycopg.Connection, s: Settings, slug: str) -> None:
    """One first row in the tenant's ``projects`` (made by the migrations), under its own tenant context."""
    from tenantdb.database.context_key import context_for

    table = sql.Identifier(schema_name(s, slug), SAMPLE_TABLE)
    with conn.transaction():
        tenant = conn.execute(sqlfiles.named("tenants/sample_tenant_id", {"registry": _registry(s)}),
                              (slug,)).fetchone()
    if tenant is None:
        raise ToolkitError(f"sample tenant {slug} is not registered; run `tenantdb local up` again")
    # The context as an application sets it: the id (plain) or a token minted as the master (signed),
    # read before the migrator's transaction (minting reads the key ring and ends its transaction).
    context = context_for(s, conn, str(tenant[0]))
    with conn.transaction():
        conn.execute(sqlfiles.named("tenants/sample_as_migrator", {"migrator": sql.Identifier(s.migrator_role)}))
        conn.execute(sqlfiles.named("tenants/sample_context"), (s.tenant_setting, context))
        conn.execute(sqlfiles.named("tenants/sample_row", {"table": table}), (tenant[0], f"{slug}'s first project"))
