"""ISO-*: the tenant-isolation posture, read from the catalog in one query.

Read-only and set-based (no per-table round trips), so it stays fast at the
story's 500 tenants and well beyond. Which tables must be isolated:

- every table in a tenant schema (``tenant_*`` or registered in tenancy.tenants), and
- every table with a ``tenant_id`` column in any non-system schema,

except the toolkit's own registry ``tenancy.tenants`` (the directory of
tenants, not tenant data; ISO-GRANTS checks app_user cannot touch it).
"Isolated" means row security enabled AND forced AND a permissive policy that
applies to app_user and uses ``tenancy.current_tenant_id()`` (found through
pg_depend, not by matching text).

Each finding names the object and the statement that fixes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from tenantdb.database import connection as db
from tenantdb.report import Check, errored, failed, passed
from tenantdb.settings import Settings
from tenantdb.verify.context import Context

MAX_SHOWN = 8
"""Findings spelled out per check; the rest are counted."""

# The minor release that fixed the published row-security CVEs (CVE-2025-8713:
# optimizer statistics could expose rows a policy hides), per major. The
# settings' engine major uses settings.minimum_minor instead.
# @see https://www.postgresql.org/support/security/CVE-2025-8713/
ROW_SECURITY_FIXED_MINOR = {13: 22, 14: 19, 16: 10, 17: 6}


@dataclass(frozen=True)
class Iso:
    id: str
    title: str
    expected: str


ISO_CHECKS: tuple[Iso, ...] = (
    Iso("ISO-RLS", "Tenant tables: RLS enabled, forced, tenant policy",
        "every tenant-schema or tenant_id table has RLS enabled and forced and a tenant-context policy"),
    Iso("ISO-PARTITION", "Every partition of a tenant table isolated",
        "every partition has RLS enabled and forced and a tenant-context policy"),
    Iso("ISO-OWNER", "No tenant table or schema owned by app_user",
        "owners are roles app_user cannot act as (an owner can switch RLS off)"),
    Iso("ISO-GRANTS", "app_user holds DML only on tenant tables",
        "no TRUNCATE, REFERENCES or TRIGGER on tenant tables; nothing on the registry"),
    Iso("ISO-PERMISSIVE", "No always-true policy for app_user",
        "every permissive policy app_user is subject to filters on the tenant context"),
    Iso("ISO-VIEW", "Views over tenant tables are security_invoker",
        "views over tenant tables run with the caller's rights; no materialized view app_user reads"),
    Iso("ISO-SUPERUSER", "No SUPERUSER/BYPASSRLS but the master and AWS's own",
        "rolsuper and rolbypassrls false for every other role"),
    Iso("ISO-MEMBERSHIP", "app_user not a member of migrator, master, platform_admin",
        "app_user cannot act as a role that owns, administers or reads across tenants"),
    Iso("ISO-SECDEF", "SECURITY DEFINER functions pin search_path",
        "no SECURITY DEFINER function in the toolkit's or tenant schemas without SET search_path"),
    Iso("ISO-PUBLIC-CREATE", "PUBLIC has no CREATE on schema public",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC in force"),
    Iso("ISO-CVE", "Engine minor carries the row-security CVE fixes",
        "PostgreSQL 15.14 or later (per major: the release fixing CVE-2025-8713)"),
)

# One statement: findings (check, object, problem, fix) and, tagged COUNT, what was examined.
# Parameters: app, migrator, admin, privileged (role names), allowed (superuser allow-list),
# prefix (tenant schema prefix), tenancy (schema name); {registry} is the registry table.
_QUERY = """
WITH
ctx AS (
  SELECT r.oid AS app,
         (SELECT p.oid FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = %(tenancy)s::text)
            AND p.proname = 'current_tenant_id' AND p.pronargs = 0) AS ctf,
         (SELECT c.oid FROM pg_class c WHERE c.relname = 'tenants'
            AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = %(tenancy)s::text)) AS registry
  FROM pg_roles r WHERE r.rolname = %(app)s::text
),
tenant_schemas AS (
  SELECT n.oid, n.nspname, n.nspowner FROM pg_namespace n
  WHERE starts_with(n.nspname, %(prefix)s::text) OR n.nspname IN (SELECT schema_name FROM {registry})
),
scoped AS (   -- names are rendered only for findings: regclass output per table costs at scale
  SELECT c.oid, c.relkind, c.relispartition, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced, c.relowner,
         c.oid IN (SELECT a.attrelid FROM pg_attribute a WHERE a.attname = 'tenant_id' AND NOT a.attisdropped)
           AS has_tenant_id
  FROM pg_class c, ctx
  WHERE c.relkind IN ('r', 'p')
    AND c.relnamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema')
                               OR nspname ~ '^pg_(toast|temp_)')
    AND c.oid IS DISTINCT FROM ctx.registry
    AND (c.relnamespace IN (SELECT oid FROM tenant_schemas)
         OR c.oid IN (SELECT a.attrelid FROM pg_attribute a WHERE a.attname = 'tenant_id' AND NOT a.attisdropped))
),
pol AS (   -- policies on scoped tables that app_user is subject to (expressions deparsed only for findings)
  SELECT p.oid, p.polrelid, p.polname, p.polpermissive, p.polcmd, p.polqual, p.polwithcheck,
         p.oid IN (SELECT d.objid FROM pg_depend d WHERE d.classid = 'pg_policy'::regclass
                     AND d.refclassid = 'pg_proc'::regclass AND d.refobjid = (SELECT ctf FROM ctx)) AS uses_ctx,
         -- a top-level constant (USING (true)): the only always-true form the catalog shows without deparsing
         left(p.polqual::text, 7) = chr(123) || 'CONST ' OR left(p.polwithcheck::text, 7) = chr(123) || 'CONST '
           AS constant
  FROM pg_policy p, ctx
  WHERE p.polrelid IN (SELECT oid FROM scoped)
    AND (0 = ANY (p.polroles) OR EXISTS (SELECT FROM unnest(p.polroles) pr WHERE pg_has_role(ctx.app, pr, 'USAGE')))
),
isolated AS (
  SELECT s.* FROM scoped s
  WHERE s.rls AND s.forced AND EXISTS (SELECT FROM pol WHERE pol.polrelid = s.oid AND pol.polpermissive AND pol.uses_ctx)
),
views AS (   -- views and materialized views reading scoped tables, directly or through other views
  SELECT DISTINCT r.ev_class AS view, d.refobjid AS base
  FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
  WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
    AND r.ev_class <> d.refobjid
    -- IS TRUE keeps this a hashed filter: as a semi-join the planner (CTE row counts unknown to it)
    -- looped every rewrite rule over every scoped table
    AND (d.refobjid IN (SELECT oid FROM scoped)) IS TRUE
),
all_views AS (
  WITH RECURSIVE v(view) AS (
    SELECT view FROM views
    UNION
    SELECT r.ev_class FROM v JOIN pg_depend d ON d.refobjid = v.view AND d.refclassid = 'pg_class'::regclass
      AND d.classid = 'pg_rewrite'::regclass JOIN pg_rewrite r ON r.oid = d.objid
    WHERE r.ev_class <> v.view)
  SELECT DISTINCT view FROM v
),
findings(check_id, object, problem, fix) AS (
  -- ISO-RLS / ISO-PARTITION
  SELECT CASE WHEN s.relispartition THEN 'ISO-PARTITION' ELSE 'ISO-RLS' END, s.oid::regclass::text,
         concat_ws(', ', CASE WHEN NOT s.rls THEN 'RLS off' END, CASE WHEN NOT s.forced THEN 'not forced' END,
                   CASE WHEN NOT EXISTS (SELECT FROM pol WHERE pol.polrelid = s.oid AND pol.polpermissive
                                         AND pol.uses_ctx) THEN 'no tenant-context policy' END)
           || CASE WHEN s.relispartition THEN ' (partition of ' || pg_partition_root(s.oid)::regclass::text || ')'
                   ELSE '' END,
         CASE WHEN NOT s.has_tenant_id THEN 'add tenant_id uuid NOT NULL, then '
              ELSE '' END || format('SELECT %%I.enable_isolation(%%L) as its owner', %(tenancy)s::text,
                                    coalesce(pg_partition_root(s.oid), s.oid)::regclass::text)
  FROM scoped s WHERE s.oid NOT IN (SELECT oid FROM isolated)
  UNION ALL
  -- ISO-OWNER
  SELECT 'ISO-OWNER', s.oid::regclass::text, 'owned by ' || pg_get_userbyid(s.relowner) || CASE WHEN s.relowner <> ctx.app
           THEN ', which ' || %(app)s::text || ' can act as' ELSE '' END,
         CASE WHEN s.relowner = ctx.app THEN format('ALTER TABLE %%s OWNER TO %%I', s.oid::regclass::text, %(migrator)s::text)
              ELSE format('REVOKE %%I FROM %%I', pg_get_userbyid(s.relowner), %(app)s::text) END
  FROM scoped s, ctx WHERE pg_has_role(ctx.app, s.relowner, 'MEMBER')
  UNION ALL
  SELECT 'ISO-OWNER', 'schema ' || quote_ident(t.nspname), 'owned by ' || pg_get_userbyid(t.nspowner)
           || CASE WHEN t.nspowner <> ctx.app THEN ', which ' || %(app)s::text || ' can act as' ELSE '' END,
         CASE WHEN t.nspowner = ctx.app THEN format('ALTER SCHEMA %%I OWNER TO %%I', t.nspname, %(migrator)s::text)
              ELSE format('REVOKE %%I FROM %%I', pg_get_userbyid(t.nspowner), %(app)s::text) END
  FROM tenant_schemas t, ctx WHERE pg_has_role(ctx.app, t.nspowner, 'MEMBER')
  UNION ALL
  -- ISO-GRANTS
  SELECT 'ISO-GRANTS', s.oid::regclass::text, 'app_user may ' || string_agg(p.priv, ', ' ORDER BY p.priv),
         format('REVOKE %%s ON %%s FROM %%I, PUBLIC', string_agg(p.priv, ', ' ORDER BY p.priv), s.oid::regclass::text, %(app)s::text)
  FROM scoped s, ctx, unnest(ARRAY['TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv)
  WHERE has_table_privilege(ctx.app, s.oid, p.priv)
  GROUP BY s.oid::regclass::text
  UNION ALL
  SELECT 'ISO-GRANTS', ctx.registry::regclass::text, 'app_user may ' || string_agg(p.priv, ', ' ORDER BY p.priv),
         format('REVOKE ALL ON %%s FROM %%I, PUBLIC', ctx.registry::regclass::text, %(app)s::text)
  FROM ctx, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv)
  WHERE ctx.registry IS NOT NULL AND has_table_privilege(ctx.app, ctx.registry, p.priv)
  GROUP BY ctx.registry
  UNION ALL
  -- ISO-PERMISSIVE
  SELECT 'ISO-PERMISSIVE', format('policy %%I on %%s', pol.polname, pol.polrelid::regclass::text),
         CASE WHEN NOT pol.uses_ctx THEN 'applies to app_user and does not use the tenant context'
              ELSE 'is always true' END || ' (' || coalesce(pg_get_expr(pol.polqual, pol.polrelid),
                                                            pg_get_expr(pol.polwithcheck, pol.polrelid),
                                                            'no expression') || ')',
         format('DROP POLICY %%I ON %%s (or make it AS RESTRICTIVE, or TO %%I only)', pol.polname,
                pol.polrelid::regclass::text, %(admin)s::text)
  FROM pol WHERE pol.polpermissive AND (NOT pol.uses_ctx
                                        OR (pol.constant AND 'true' IN (pg_get_expr(pol.polqual, pol.polrelid),
                                                                        pg_get_expr(pol.polwithcheck, pol.polrelid))))
  UNION ALL
  -- ISO-VIEW
  SELECT 'ISO-VIEW', c.oid::regclass::text,
         CASE c.relkind WHEN 'm' THEN 'materialized view: row security does not apply to its readers'
                        ELSE 'view runs with its owner''s rights (' || pg_get_userbyid(c.relowner) || ')' END,
         CASE c.relkind WHEN 'm' THEN format('REVOKE ALL ON %%s FROM %%I, PUBLIC (or drop it)', c.oid::regclass::text, %(app)s::text)
                        ELSE format('ALTER VIEW %%s SET (security_invoker = true)', c.oid::regclass::text) END
  FROM all_views v JOIN pg_class c ON c.oid = v.view, ctx
  WHERE (c.relkind = 'v' AND NOT EXISTS (SELECT FROM unnest(c.reloptions) o
                                         WHERE lower(o) IN ('security_invoker=true', 'security_invoker=on',
                                                            'security_invoker=1', 'security_invoker=yes')))
     OR (c.relkind = 'm' AND has_table_privilege(ctx.app, c.oid, 'SELECT'))
  UNION ALL
  -- ISO-SUPERUSER
  SELECT 'ISO-SUPERUSER', 'role ' || quote_ident(r.rolname),
         concat_ws(' and ', CASE WHEN r.rolsuper THEN 'SUPERUSER' END, CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END),
         format('ALTER ROLE %%I NOSUPERUSER NOBYPASSRLS (as a superuser; on RDS: drop and recreate the role)', r.rolname)
  FROM pg_roles r WHERE (r.rolsuper OR r.rolbypassrls) AND r.rolname <> ALL (%(allowed)s::text[])
    AND r.rolname <> session_user
  UNION ALL
  -- ISO-MEMBERSHIP
  SELECT 'ISO-MEMBERSHIP', 'role ' || quote_ident(r.rolname), quote_ident(%(app)s::text) || ' is a member',
         format('REVOKE %%I FROM %%I (and from any role %%I belongs to)', r.rolname, %(app)s::text, %(app)s::text)
  FROM pg_roles r, ctx WHERE (r.rolname = ANY (%(privileged)s::text[]) OR r.rolname = session_user)
    AND pg_has_role(ctx.app, r.oid, 'MEMBER')
  UNION ALL
  -- ISO-SECDEF
  SELECT 'ISO-SECDEF', 'function ' || p.oid::regprocedure::text, 'SECURITY DEFINER without SET search_path',
         format('ALTER FUNCTION %%s SET search_path = pg_catalog, pg_temp', p.oid::regprocedure::text)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE p.prosecdef AND (n.nspname = %(tenancy)s::text OR n.oid IN (SELECT oid FROM tenant_schemas))
    AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\\_path=%%')
  UNION ALL
  -- ISO-PUBLIC-CREATE
  SELECT 'ISO-PUBLIC-CREATE', 'schema public', 'PUBLIC may CREATE', 'REVOKE CREATE ON SCHEMA public FROM PUBLIC'
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
  WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE'
)
SELECT check_id, object, problem, fix FROM findings
UNION ALL
SELECT 'COUNT', k, v::text, '' FROM (VALUES
  ('tables', (SELECT count(*) FROM scoped WHERE NOT relispartition)),
  ('partitions', (SELECT count(*) FROM scoped WHERE relispartition)),
  ('isolated', (SELECT count(*) FROM isolated)),
  ('tenant_schemas', (SELECT count(*) FROM tenant_schemas)),
  ('policies', (SELECT count(*) FROM pol)),
  ('views', (SELECT count(*) FROM all_views)),
  ('roles', (SELECT count(*) FROM pg_roles)),
  ('server_version_num', current_setting('server_version_num')::int),
  ('app_exists', (SELECT count(*) FROM ctx)),
  ('ctf_exists', (SELECT count(*) FROM ctx WHERE ctf IS NOT NULL))
) AS counts(k, v)
"""


def query(s: Settings) -> sql.Composed:
    return sql.SQL(_QUERY).format(registry=sql.Identifier(s.tenancy_schema, "tenants"))


def params(s: Settings) -> dict[str, Any]:
    """The master is settings.master_username and, in SQL, session_user (whoever --master-dsn names)."""
    return {
        "app": s.app_role, "migrator": s.migrator_role, "admin": s.platform_admin_role,
        "privileged": [s.migrator_role, s.platform_admin_role, s.master_username],
        "allowed": [*s.aws_internal_roles, s.master_username],
        "prefix": s.tenant_schema_prefix, "tenancy": s.tenancy_schema,
    }


def collect(conn: psycopg.Connection, s: Settings) -> tuple[dict[str, list[dict[str, str]]], dict[str, int]]:
    """(findings by check id, counts) from one catalog query, in a read-only transaction."""
    conn.rollback()
    with conn.transaction():
        conn.execute("SET TRANSACTION READ ONLY")
        rows = db.fetch_all_dicts(conn, query(s), params(s))
    findings: dict[str, list[dict[str, str]]] = {}
    counts: dict[str, int] = {}
    for r in rows:
        if r["check_id"] == "COUNT":
            counts[r["object"]] = int(r["problem"])
        else:
            findings.setdefault(r["check_id"], []).append(r)
    return findings, counts


def evaluate(s: Settings, findings: dict[str, list[dict[str, str]]], counts: dict[str, int]) -> list[Check]:
    """One Check per ISO id from the collected findings."""
    if not counts.get("app_exists"):
        return [errored(c.id, c.title, f"role {s.app_role} does not exist; run tenantdb bootstrap", c.expected)
                for c in ISO_CHECKS]
    if not counts.get("ctf_exists"):
        return [errored(c.id, c.title, f"{s.tenancy_schema}.current_tenant_id() is missing; run tenantdb bootstrap",
                        c.expected) for c in ISO_CHECKS]
    out = []
    for c in ISO_CHECKS:
        if c.id == "ISO-CVE":
            out.append(_cve(s, c, counts["server_version_num"]))
            continue
        found = findings.get(c.id, [])
        if found:
            shown = [f"{f['object']}: {f['problem']} -> fix: {f['fix']}" for f in found[:MAX_SHOWN]]
            more = f" | and {len(found) - MAX_SHOWN} more" if len(found) > MAX_SHOWN else ""
            out.append(failed(c.id, c.title, c.expected, f"{len(found)} finding(s)", " | ".join(shown) + more))
        else:
            out.append(passed(c.id, c.title, c.expected, _examined(c.id, counts, s)))
    return out


def _examined(check_id: str, n: dict[str, int], s: Settings) -> str:
    if check_id in ("ISO-RLS", "ISO-OWNER", "ISO-GRANTS"):
        return f"{n['tables']} tenant table(s) in {n['tenant_schemas']} tenant schema(s), {n['isolated']} isolated"
    if check_id == "ISO-PARTITION":
        return f"{n['partitions']} partition(s) isolated"
    if check_id == "ISO-PERMISSIVE":
        return f"{n['policies']} policy(ies) app_user is subject to, all tenant-filtered"
    if check_id == "ISO-VIEW":
        return f"{n['views']} view(s) over tenant tables, all security_invoker"
    if check_id == "ISO-SUPERUSER":
        return f"{n['roles']} roles examined; allowed: the master, {', '.join(s.aws_internal_roles)}"
    if check_id == "ISO-MEMBERSHIP":
        return f"{s.app_role} is a member of none of {s.migrator_role}, {s.platform_admin_role}, the master"
    if check_id == "ISO-SECDEF":
        return f"none unpinned in {s.tenancy_schema} or the tenant schemas"
    return "as expected"


def _cve(s: Settings, c: Iso, version_num: int) -> Check:
    major, minor = version_num // 10000, version_num % 10000
    need = s.minimum_minor if major == s.engine_major else ROW_SECURITY_FIXED_MINOR.get(major, 0)
    actual = f"{major}.{minor}"
    if minor >= need:
        return passed(c.id, c.title, f"{major}.{need} or later", actual)
    return failed(c.id, c.title, f"{major}.{need} or later", actual,
                  f"PostgreSQL {actual} lacks the row-security CVE fixes (CVE-2025-8713); upgrade the minor "
                  f"version (RDS: modify the instance's engine version to {major}.{need} or later)")


def iso_checks(ctx: Context) -> list[Check]:
    """Every ISO posture check; if the catalog query cannot run, each is ERROR with the reason."""
    s = ctx.settings
    try:
        findings, counts = collect(ctx.master_db, s)
    except Exception as exc:  # noqa: BLE001 - fail closed: every ISO check ERRORs with the reason
        try:
            ctx.master_db.rollback()
        except Exception:  # noqa: BLE001
            pass
        reason = f"{type(exc).__name__}: {db.first_line(exc)}"
        return [errored(c.id, c.title, reason, c.expected) for c in ISO_CHECKS]
    return evaluate(s, findings, counts)
