"""ISO-*: the tenant-isolation posture, read from the catalog in one query.

Read-only and set-based (no per-table round trips), so it stays fast at the
story's 500 tenants and well beyond. Which tables must be isolated:

- every table in a tenant schema (``tenant_*`` or registered in tenancy.tenants), and
- every table with a ``tenant_id`` column in any non-system schema,

except the toolkit's own registry ``tenancy.tenants`` (the directory of
tenants, not tenant data; ISO-GRANTS checks app_user cannot touch it).
"Isolated" means row security enabled AND forced AND a permissive policy that
applies to app_user and uses ``tenancy.current_tenant_id()`` (found through
pg_depend, not by matching text). In tenant schemas the tables allowed without
tenant_id (Alembic's ``alembic_version`` and ``settings.untenanted_tables``)
may stay unisolated, but app_user may not write them then (ISO-WRITE) and may
hold nothing at all on the version table.

The statement is sql/verify/posture.sql; each finding names the object and
the statement that fixes it. Besides row security it proves what a hostile
app_user could plant (per-role settings, powerful built-in roles, SECURITY
DEFINER functions, trojan schemas, readable statement statistics, tenant ids in
catalog text, usable sequences, objects outside a tenant schema that pin it) and
that every policy is exactly the one tenancy.enable_isolation generates.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from tenantdb.checks import title
from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import locks
from tenantdb.database.bootstrap import roles
from tenantdb.database.plumbing import sqlfiles
from tenantdb.database.bootstrap.steps import placeholders
from tenantdb.errors import ToolkitError
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
    """One ISO-* id the posture query reports, with what it expects (its title is the registry's)."""

    id: str
    expected: str

    @property
    def title(self) -> str:
        return title(self.id)


ISO_CHECKS: tuple[Iso, ...] = (
    Iso("ISO-RLS", "every tenant-schema or tenant_id table has RLS enabled and forced and a tenant-context policy"),
    Iso("ISO-PARTITION", "every partition has RLS enabled and forced and a tenant-context policy"),
    Iso("ISO-OWNER", "owners are roles app_user cannot act as (an owner can switch RLS off)"),
    Iso("ISO-GRANTS", "no TRUNCATE, REFERENCES or TRIGGER on tenant tables; nothing on the registry"),
    Iso("ISO-WRITE",
        "no INSERT, UPDATE, DELETE or TRUNCATE for app_user (directly, through a role or PUBLIC) on a "
        "tenant-schema table without row security in force; no privilege at all on the migration version table"),
    Iso("ISO-PERMISSIVE", "every permissive policy app_user is subject to filters on the tenant context"),
    Iso("ISO-VIEW", "views over tenant tables run with the caller's rights; no materialized view app_user reads"),
    Iso("ISO-PINS",
        "no view, foreign key, function, type or other object outside a tenant schema depends on its objects"),
    Iso("ISO-SUPERUSER", "rolsuper and rolbypassrls false for every other role"),
    Iso("ISO-MEMBERSHIP", "app_user cannot act as a role that owns, administers or reads across tenants"),
    Iso("ISO-SECDEF", "no SECURITY DEFINER function in the toolkit's or tenant schemas without SET search_path"),
    Iso("ISO-PUBLIC-CREATE", "REVOKE CREATE ON SCHEMA public FROM PUBLIC in force"),
    Iso("ISO-CVE", "PostgreSQL 15.14 or later (per major: the release fixing CVE-2025-8713)"),
    Iso("ISO-POLICY-EXACT",
        "only tenant_isolation and platform_admin_access, with the command, roles, USING and WITH CHECK "
        "enable_isolation generates"),
    Iso("ISO-ROLE-SETTINGS",
        "no pg_db_role_setting entry for app_user, the migrator, platform_admin or the reporting role"),
    Iso("ISO-BUILTIN-ROLES",
        "none of them has the privileges of pg_execute_server_program, pg_read_all_data, pg_signal_backend, "
        "pg_read_all_stats and the like"),
    Iso("ISO-SECDEF-EXEC",
        "app_user can execute no SECURITY DEFINER function owned by another role, except the tenancy schema's"),
    Iso("ISO-TROJAN",
        "no app_user schema named after another role; no app_user function or operator named like a built-in"),
    Iso("ISO-STATS", "no SELECT on pg_stat_statements and no EXECUTE on its functions for app_user or PUBLIC"),
    Iso("ISO-ID-LEAK",
        "no registered tenant id in defaults, partition bounds, views, functions, comments, policies, "
        "names or role settings"),
    Iso("ISO-SEQUENCE",
        "no USAGE, SELECT or UPDATE for app_user on sequences in tenant schemas (identity columns need none); "
        "no serial column (a nextval() default) there"),
)



def untenanted(s: Settings) -> list[str]:
    """Tables a tenant schema may hold without tenant_id: Alembic's and the settings' own."""
    return [roles.VERSION_TABLE, *s.untenanted_tables]


PINNED = "-- pinned:"
"""Where the dependency part of sql/tenants/pins.sql begins (it ends at the file's final SELECT)."""


def pinned() -> sql.SQL:
    """The dependency part of sql/tenants/pins.sql, the query `tenant drop` refuses by, for posture.sql's
    ``{pinned}``: there it judges pins over every tenant schema (its ``scope``), so ISO-PINS and `tenant
    drop` agree on what a pin is. The file's own text, never a value."""
    text = sqlfiles.named_path("tenants/pins").read_text()
    start, end = text.find(PINNED), text.rfind("\nSELECT ")
    if start < 0 or end < start:
        raise ToolkitError(f"{sqlfiles.named_path('tenants/pins')}: no {PINNED!r} part before its final SELECT")
    return sql.SQL(text[start:end])


def values(s: Settings) -> dict[str, sql.Composable]:
    """The placeholders of sql/verify/posture.sql. The master is settings.master_username and,
    in SQL, session_user (whoever --master-dsn names)."""
    return {**placeholders(s),
            "privileged": sql.Literal([s.migrator_role, s.platform_admin_role, s.master_username]),
            "allowed": sql.Literal([*s.aws_internal_roles, s.master_username]),
            "untenanted": sql.Literal(untenanted(s)),
            "version_table": sql.Literal(roles.VERSION_TABLE),
            "pinned": pinned()}


def query(s: Settings) -> sql.Composed:
    """The one posture statement (sql/verify/posture.sql), every value a psycopg.sql Literal."""
    return sqlfiles.named("verify/posture", values(s))


def collect(conn: psycopg.Connection, s: Settings) -> tuple[dict[str, list[dict[str, str]]], dict[str, int]]:
    """(findings by check id, counts) from one catalog query, in a read-only transaction: one round trip."""
    rows = db.read_only_batch(conn, [sqlfiles.named("verify/no_jit"), query(s)])[1]
    if isinstance(rows, BaseException):
        raise rows
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
        return (f"{n['tables']} tenant table(s) in {n['tenant_schemas']} tenant schema(s), {n['isolated']} isolated; "
                f"{n['untenanted']} allowed without tenant_id, {n['untenanted_isolated']} of them isolated")
    if check_id == "ISO-WRITE":
        return (f"{n['unsecured']} tenant-schema table(s) without row security, {n['version_tables']} version "
                f"table(s): {s.app_role} may write none of them and holds nothing on the version tables")
    if check_id == "ISO-PINS":
        return f"{n['tenant_dependencies']} dependency(ies) on tenant-schema objects, none from outside the schema"
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
    if check_id == "ISO-POLICY-EXACT":
        return f"{n['all_policies']} policy(ies) on tenant tables, each exactly as generated"
    if check_id == "ISO-ROLE-SETTINGS":
        return f"none for {', '.join(roles.application_roles(s))}"
    if check_id == "ISO-BUILTIN-ROLES":
        return f"{len(roles.POWERFUL_ROLES)} powerful built-in roles, held by no application role"
    if check_id == "ISO-SECDEF-EXEC":
        return f"none executable by {s.app_role} outside {s.tenancy_schema}"
    if check_id == "ISO-TROJAN":
        # Not a FAIL by itself: AC8 lets app_user create schemas and functions, and every toolkit
        # session pins search_path, so they can shadow nothing there; only the two traps above fail.
        return (f"{n['app_routines']} function(s)/operator(s) in {n['app_schemas']} schema(s) {s.app_role} owns; "
                "none named after a role or like a built-in")
    if check_id == "ISO-STATS":
        return f"pg_stat_statements is not readable by {s.app_role}"
    if check_id == "ISO-ID-LEAK":
        return f"{n['catalog_texts']} catalog text(s) searched, no registered tenant id"
    if check_id == "ISO-SEQUENCE":
        return f"{n['sequences']} sequence(s) in tenant schemas, none usable by {s.app_role}; no serial column"
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
        # The catalog's pg_get_* calls lock the tables they describe: under a LOCK TABLE the statement
        # gives up (the session's lock_timeout) and the ERROR names the holder.
        with locks.named_waits(ctx.master_db, "verify posture", after_s=0.25, every_s=0.25):
            findings, counts = collect(ctx.master_db, s)
    except Exception as exc:  # noqa: BLE001 - fail closed: every ISO check ERRORs with the reason
        try:
            ctx.master_db.rollback()
        except Exception:  # noqa: BLE001 - a failed rollback must not hide the first error
            pass
        reason = str(exc) if isinstance(exc, ToolkitError) else f"{type(exc).__name__}: {db.first_line(exc)}"
        return [errored(c.id, c.title, reason, c.expected) for c in ISO_CHECKS]
    return evaluate(s, findings, counts)
