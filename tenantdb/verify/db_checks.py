"""Database-side checks (psycopg): live parameters, the database, app_user, TLS.

The facts come from one batched catalog query (:attr:`Context.catalog`);
expected values come from the settings (the same ``db_parameters`` the
parameter group is built from), so nothing is restated here.
"""

from __future__ import annotations

import psycopg

from tenantdb.checks import title
from tenantdb.database.plumbing import connection as db
from tenantdb.errors import ToolkitError
from tenantdb.report import Check, compare, failed, passed
from tenantdb.verify.context import Context

SHARED_BUFFERS_MIN_FRACTION = 0.8
"""RDS's DBInstanceClassMemory is the class's memory less what the OS and RDS
reserve, so {DBInstanceClassMemory/32768} lands a little under 25% of the
nominal memory. Accept 80-100% of the nominal figure."""


def ac6_live(ctx: Context) -> Check:
    """AC6 live: every declared parameter at its value in the running server, pg_stat_statements loaded."""
    id_ = "AC6-LIVE"
    s = ctx.settings
    live = ctx.catalog["settings"] or {}
    problems, seen = [], []
    for name, (value, _apply) in s.db_parameters.items():
        if name.startswith("rds."):
            continue  # RDS-only; rds.force_ssl is proven by the TLS check
        got = (live.get(name) or {}).get("setting")
        if name == "shared_preload_libraries":
            # Hidden from non-superusers; the view below proves the library is loaded either way.
            if got is not None and value not in [lib.strip() for lib in got.split(",")]:
                problems.append(f"shared_preload_libraries={got!r} lacks {value}")
        elif got is None:
            problems.append(f"{name} not set (unknown to the server)")
        elif name == "shared_buffers":
            problem = _shared_buffers(got, s.instance_memory_bytes, s.instance_class)
            if problem:
                problems.append(problem)
        elif not _same(got, value):
            problems.append(f"{name}={got}{_unit(live, name)} (declared {value}{_unit(live, name)})")
        if got is not None:
            seen.append(f"{name}={got}")
    pgss = _pg_stat_statements(ctx)
    problems += pgss
    seen += [] if pgss else ["pg_stat_statements loaded and installed"]
    expected = ", ".join(f"{n}={v}" for n, (v, _) in s.db_parameters.items() if not n.startswith("rds."))
    if problems:
        return failed(id_, title(id_), expected, "; ".join(problems), "; ".join(problems))
    return passed(id_, title(id_), expected, ", ".join(seen))


def _pg_stat_statements(ctx: Context) -> list[str]:
    """The extension is installed in db_name and its view answers (it errors unless the library is preloaded).

    Read with the catalog, in its round trip (sql/verify/pg_stat_statements.sql keeps the view's
    error, so the other facts of that batch still arrive).
    """
    got = ctx.catalog["pg_stat_statements"]
    if got is None:
        raise ToolkitError(f"database {ctx.settings.db_name} does not exist (AC7); pg_stat_statements not shown")
    if got.get("version") is None:
        return [f"extension pg_stat_statements not installed in {ctx.settings.db_name}"]
    if got.get("error"):
        return [f"pg_stat_statements not usable: {got['error']}"]
    return [] if got.get("answers") else ["pg_stat_statements not usable: its view did not answer"]


_BOOLEANS = ({"on", "true", "yes", "1"}, {"off", "false", "no", "0"})


def _same(live: str, declared: str) -> bool:
    """The server shows a boolean as on/off whatever the parameter group spelled (1/0, true/false)."""
    if live == declared:
        return True
    return any(live.lower() in spelled and declared.lower() in spelled for spelled in _BOOLEANS)


def _unit(live: dict, name: str) -> str:
    unit = (live.get(name) or {}).get("unit")
    return f" {unit}" if unit else ""


def _shared_buffers(setting: str, memory_bytes: int, instance_class: str) -> str | None:
    pages = int(setting)
    target = memory_bytes // 32768  # 25% of memory in 8 kB pages, as {DBInstanceClassMemory/32768}
    if SHARED_BUFFERS_MIN_FRACTION * target <= pages <= target:
        return None
    return (f"shared_buffers={pages * 8 // 1024}MB is not about 25% of {instance_class}'s "
            f"{memory_bytes // 1024**3}GiB (expected {int(SHARED_BUFFERS_MIN_FRACTION * target) * 8 // 1024}-"
            f"{target * 8 // 1024}MB)")


def ac7_database(ctx: Context) -> Check:
    s = ctx.settings
    return compare("AC7", title("AC7"), True, ctx.catalog["db_exists"],
                   "" if ctx.catalog["db_exists"] else f"database {s.db_name} not found; run tenantdb bootstrap")


def ac8_app_user(ctx: Context) -> Check:
    """AC8: no SUPERUSER, no BYPASSRLS (and no CREATEROLE, CREATEDB, REPLICATION); CREATE on the database as set."""
    s = ctx.settings
    id_ = "AC8"
    want_create = s.app_create_on_database
    expected = (f"rolsuper=f rolbypassrls=f rolcreaterole=f rolcreatedb=f rolcanlogin=t, "
                f"{'CREATE' if want_create else 'no CREATE'} on {s.db_name}")
    role = ctx.catalog["app_role"]
    if role is None:
        return failed(id_, title(id_), expected, "role missing",
                      f"role {s.app_role} does not exist; run tenantdb bootstrap")
    privs = ctx.catalog["app_db_privileges"] or {}
    problems = [f"{attr} is true" for attr in ("rolsuper", "rolbypassrls", "rolcreaterole", "rolcreatedb",
                                              "rolreplication") if role[attr]]
    if not role["rolcanlogin"]:
        problems.append("rolcanlogin is false")
    if privs.get("CREATE") is not want_create:
        problems.append(f"CREATE on {s.db_name} is {privs.get('CREATE')}")
    if privs.get("CONNECT") is not True:
        problems.append(f"no CONNECT on {s.db_name}")
    actual = " ".join(f"{k}={'t' if v else 'f'}" for k, v in role.items()) + \
        f", CREATE on {s.db_name}={'t' if privs.get('CREATE') else 'f'}"
    if problems:
        fix = ("remove with tenantdb bootstrap (BYPASSRLS/SUPERUSER/REPLICATION need a superuser: "
               f"ALTER ROLE {s.app_role} NO...)")
        return failed(id_, title(id_), expected, actual, f"{'; '.join(problems)}; {fix}")
    return passed(id_, title(id_), expected, actual)


def ac1_server_version(ctx: Context) -> tuple[int, str]:
    """(major, full version) as the server reports it: RDS's EngineVersion may be just "15"."""
    return ctx.catalog["server_version_num"] // 10000, ctx.catalog["server_version"]


def tls(ctx: Context) -> Check:
    """Every connection the verifier made used TLS, and the server refuses a client without it."""
    id_ = "TLS"
    if not ctx.connections:
        return failed(id_, title(id_), "TLS on every connection", "no connection made",
                      "no database connection was made, so TLS was never shown")
    made = "; ".join(f"{c.label} {c.target}: {c.tls_version if c.tls else 'NO TLS'}" for c in ctx.connections)
    plain = _plaintext_refused(ctx)
    problems = [f"{c.label} connection: {c.tls_version}" if "not shown" in c.tls_version else
                f"{c.label} connection without TLS" for c in ctx.connections if not c.tls]
    if plain:
        problems.append(plain)
    if problems:
        return failed(id_, title(id_), "TLS on every connection; plaintext refused", made, "; ".join(problems))
    return passed(id_, title(id_), "TLS on every connection; plaintext refused", f"{made}; plaintext refused")


def _plaintext_refused(ctx: Context) -> str | None:
    """None when a connection without TLS is refused, else what happened."""
    t = ctx.master.target
    s = ctx.settings
    # Not through connect(), which refuses sslmode=disable; the same session options, should it be accepted.
    kwargs = {"host": t.host, "port": t.port, "user": t.user, "dbname": t.dbname, "sslmode": "disable",
              "connect_timeout": s.connect_timeout_s, "application_name": "tenantdb-verify-plaintext",
              "options": db.session_options(s.verify_lock_timeout_s, s.toolkit_statement_timeout_s)}
    if t.password is not None:
        kwargs["password"] = t.password
    try:
        conn = psycopg.connect(**kwargs)
    except psycopg.OperationalError as exc:
        text = str(exc).lower()
        if "no encryption" in text or "ssl off" in text or "pg_hba.conf" in text:
            return None
        return f"plaintext attempt failed for another reason: {db.first_line(exc)}"
    conn.close()
    return "a connection without TLS was accepted (rds.force_ssl is not in force)"
