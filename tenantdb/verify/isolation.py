"""AC10: row-level security proven as app_user, inside a transaction that is rolled back.

As app_user (logged in with the connection secret's credentials, or through
``SET ROLE`` from the master when there is no secret, as with
``--master-dsn``): create a scratch table, enable and force RLS, create the
tenant policy ``tenant_id = (SELECT tenancy.current_tenant_id())``, insert
rows of two tenants, then show that tenant A sees only its own rows, that no
context, an empty one or a malformed one sees nothing (and raises nothing),
and that A can neither insert, update nor delete B's rows. A's context is set
the way an application sets it, ``SELECT tenancy.set_tenant(%s)`` with what
the mode asks for (the id, or in signed mode a token minted with the
database's key); in signed mode A's bare id written to the setting must see
nothing too. Everything is rolled back; the check then confirms nothing was
left behind.
"""

from __future__ import annotations

import secrets
import uuid

import psycopg
from psycopg import sql

from tenantdb.database import connection as db
from tenantdb.database import sqlfiles
from tenantdb.database.context_key import context_for
from tenantdb.report import Check, failed, passed
from tenantdb.verify.context import Context

ID, TITLE = "AC10", "Row-level security proven as app_user (rolled back)"
EXPECTED = ("A sees only A's rows; no/empty/malformed context sees none; A cannot write B's rows; "
            "nothing left behind")


def ac10_rls(ctx: Context) -> Check:
    s = ctx.settings
    conn, how = _app_session(ctx)
    scratch = f"tenantdb_verify_{secrets.token_hex(4)}"
    try:
        found, problems = _probe(conn, ctx, how, scratch)
    finally:
        conn.rollback()
    leftover = ctx.master_db.execute(_q("leftover"), (scratch,)).fetchone()
    ctx.master_db.rollback()
    if leftover and leftover[0]:
        problems.append(f"schema {scratch} was left behind")
    else:
        found.append("nothing left behind")
    actual = f"as {s.app_role} ({how}): " + "; ".join(found)
    if problems:
        return failed(ID, TITLE, EXPECTED, actual, "; ".join(problems))
    return passed(ID, TITLE, EXPECTED, actual)


def _app_session(ctx: Context) -> tuple[psycopg.Connection, str]:
    """app_user's own login when the secret has one; else the master's connection with SET ROLE."""
    if ctx.via_aws:
        try:
            return ctx.connect("app_user", ctx.app_target()), "login from the connection secret"
        except Exception as exc:  # noqa: BLE001 - fall back, and say so; AC9 reports the secret's fault
            reason = db.first_line(exc)
            return ctx.master_db, f"SET ROLE from the master, since the secret's login failed: {reason}"
    return ctx.master_db, "SET ROLE from the master"


def _q(name: str, /, **values: sql.Composable) -> sql.Composed:
    """One statement of the proof, sql/verify/isolation/<name>.sql."""
    return sqlfiles.named(f"verify/isolation/{name}", values)


def _probe(conn: psycopg.Connection, ctx: Context, how: str, scratch: str) -> tuple[list[str], list[str]]:
    s = ctx.settings
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    found: list[str] = []
    problems: list[str] = []
    tenancy = sql.Identifier(s.tenancy_schema)
    setting = sql.Literal(s.tenant_setting)
    a_context = context_for(s, ctx.master_db, a)  # before the transaction: it reads the key as the master
    set_tenant = _q("set_tenant", tenancy=tenancy)

    def context(value: str) -> None:
        """Write the setting directly, as a forger would (no helper to refuse the value)."""
        conn.execute(_q("forge_context", setting=setting), (value,))

    def as_a() -> None:
        conn.execute(set_tenant, (a_context,))

    def visible() -> list[str]:
        return [str(r[0]) for r in conn.execute(_q("visible", table=table)).fetchall()]

    with conn.transaction(force_rollback=True):
        if how.startswith("SET ROLE"):
            conn.execute(_q("as_app_user", app_role=sql.Identifier(s.app_role)))
        user = conn.execute(_q("whoami")).fetchone()
        if not user or user[0] != s.app_role:
            return found, [f"running as {user[0] if user else '?'}, not {s.app_role}"]
        if conn.execute(_q("no_context_yet", tenancy=tenancy)).fetchone() != (True,):
            problems.append("current_tenant_id() is not NULL before any context is set")
        table = _create_table(conn, s.app_create_on_database, scratch)
        # Rows of two tenants go in before RLS is switched on, so this session never sets a context
        # until the "no context" read below.
        insert = _q("insert", table=table)
        conn.execute(insert, (a, "a1"))
        conn.execute(insert, (a, "a2"))
        conn.execute(insert, (b, "b1"))
        conn.execute(_q("enable_rls", table=table, tenancy=tenancy))
        found.append(f"RLS enabled and forced on {table.as_string(conn)}")

        rows = visible()
        (problems if rows else found).append(f"no context sees {len(rows)} rows")
        as_a()
        rows = visible()
        if sorted(rows) != [a, a]:
            problems.append(f"tenant A sees {len(rows)} rows, {sum(r != a for r in rows)} of another tenant")
        else:
            found.append("A sees its 2 rows of 3")
        forged = [("empty", ""), ("malformed", "not-a-uuid")]
        if s.tenant_context == "signed":
            forged.append(("unsigned bare id", a))
        for label, value in forged:
            context(value)
            try:
                with conn.transaction():  # a savepoint: a raising function must not end the probe
                    rows = visible()
            except psycopg.Error as exc:
                problems.append(f"{label} context raised instead of matching nothing: {db.first_line(exc)}")
                continue
            (problems if rows else found).append(f"{label} context sees {len(rows)} rows")

        as_a()
        _expect_refused(conn, lambda: conn.execute(insert, (b, "forged")), "insert of B's row", found, problems)
        for verb, name in (("update", "update_other"), ("delete", "delete_other")):
            n = conn.execute(_q(name, table=table), (b,)).rowcount
            (problems if n else found).append(f"{verb} of B's rows touched {n}")
        _expect_refused(conn, lambda: conn.execute(_q("move_rows", table=table), (b,)),
                        "moving A's rows to B", found, problems)
    return found, problems


def _create_table(conn: psycopg.Connection, in_schema: bool, scratch: str) -> sql.Composable:
    """A scratch schema when app_user may create one (AC8's CREATE), else a temporary table."""
    if in_schema:
        conn.execute(_q("create_schema", schema=sql.Identifier(scratch)))
        table: sql.Composable = sql.Identifier(scratch, "rls_probe")
        conn.execute(_q("create_table", table=table))
    else:
        table = sql.Identifier("pg_temp", f"{scratch}_probe")
        conn.execute(_q("create_temp_table", table=sql.Identifier(f"{scratch}_probe")))
    return table


def _expect_refused(conn: psycopg.Connection, action, what: str, found: list[str], problems: list[str]) -> None:
    try:
        with conn.transaction():
            action()
    except psycopg.errors.InsufficientPrivilege as exc:
        if "row-level security" in str(exc):
            found.append(f"{what} refused by the policy")
            return
        problems.append(f"{what} failed for another reason: {db.first_line(exc)}")
        return
    problems.append(f"{what} succeeded")
