"""ISO-PROBE: tenant isolation proven live, as app_user, inside transactions that are rolled back.

The scratch table is set up the way real tenant tables are: a schema made by
:func:`tenantdb.database.roles.tenant_schema_sql` (owned by the migrator, with its
default privileges), a table the migrator creates there, isolated by
``tenancy.enable_isolation``. Then, as app_user (SET ROLE from a fresh master
session, so the tenant setting has never existed in it):

- no context, an empty one and malformed ones: reads see nothing, writes are refused;
- tenant A's context: only A's rows are visible; B's rows cannot be read, inserted,
  updated or deleted, and A's rows cannot be moved to B;
- app_user cannot switch row security off, drop a policy, alter or truncate the table;
- on the real tenant tables (up to :data:`REAL_TABLES`), every registered tenant's
  context sees no row of another tenant, and a stranger's context sees nothing;
- a context set with SET LOCAL does not survive into the next transaction.

A valid context is set the way an application sets it, ``SELECT
tenancy.set_tenant(%s)``, with what the mode asks for: the tenant id (plain)
or a token minted with the database's current key (signed, read once as the
master); forged contexts are written to the setting directly. In signed mode
a bare tenant id is one of the forged contexts.

ISO-PROBE-ROLE needs app_user's own login (the connection secret): SET ROLE
checks the *session* user's memberships, so from a master session it would
prove nothing. It tries SET ROLE to the migrator, the master and
platform_admin, each of which must fail, and repeats the pooled-connection
test on that login. With ``--master-dsn`` there is no such login: SKIP, said so.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import psycopg
from psycopg import sql

from tenantdb.database import connection as db
from tenantdb.database import context_key, roles, sqlfiles
from tenantdb.report import Check, errored, failed, passed, skipped
from tenantdb.settings import Settings
from tenantdb.verify.context import Context

ID, TITLE = "ISO-PROBE", "Tenant isolation probed live as app_user (rolled back)"
EXPECTED = ("no/empty/malformed context: nothing read, writes refused; A cannot read or write B's rows; "
            "app_user cannot alter RLS; real tenant tables hide other tenants; SET LOCAL does not leak; "
            "nothing left behind")
ROLE_ID, ROLE_TITLE = "ISO-PROBE-ROLE", "app_user cannot SET ROLE to privileged roles"
ROLE_EXPECTED = "SET ROLE to the migrator, master and platform_admin refused on app_user's own login"

REAL_TABLES = 200
"""Real isolated tables probed at most (a bounded, single round trip)."""
REAL_TENANTS = 20
"""Registered tenants whose context is probed on them at most."""

MALFORMED = ("not-a-uuid", "' OR '1'='1", "00000000-0000-0000-0000-00000000000g", " ")


def _q(name: str, /, **values: sql.Composable) -> sql.Composed:
    """One statement of the probe, sql/verify/probe/<name>.sql."""
    return sqlfiles.named(f"verify/probe/{name}", values)


class _Probe:
    """Collects what held (found) and what did not (problems)."""

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn
        self.found: list[str] = []
        self.problems: list[str] = []

    def expect(self, ok: bool, what: str) -> None:
        (self.found if ok else self.problems).append(what)

    def touches_none(self, stmt: sql.Composable, args: tuple, what: str) -> None:
        """``stmt`` must run and touch no row (a savepoint keeps an error from ending the probe)."""
        try:
            with self.conn.transaction(force_rollback=True):  # undone either way: probes stay independent
                n = self.conn.execute(stmt, args or None).rowcount
        except psycopg.Error as exc:
            self.problems.append(f"{what} raised {db.first_line(exc)}")
            return
        self.expect(n == 0, f"{what} touched {n} rows")

    def refused(self, action: Callable[[], object], what: str, sqlstate: str = "42501") -> None:
        """``action`` must fail with ``sqlstate`` (default insufficient_privilege), inside a savepoint."""
        try:
            with self.conn.transaction(force_rollback=True):
                action()
        except psycopg.Error as exc:
            if exc.sqlstate == sqlstate:
                self.found.append(f"{what} refused")
            else:
                self.problems.append(f"{what} failed for another reason: {db.first_line(exc)}")
            return
        self.problems.append(f"{what} succeeded")


def iso_probe(ctx: Context) -> list[Check]:
    """ISO-PROBE and ISO-PROBE-ROLE; when the probe cannot run, both are ERROR with the reason."""
    try:
        return _iso_probe(ctx)
    except Exception as exc:  # noqa: BLE001 - fail closed, under both ids
        reason = f"{type(exc).__name__}: {db.first_line(exc)}"
        return [errored(ID, TITLE, reason, EXPECTED), errored(ROLE_ID, ROLE_TITLE, reason, ROLE_EXPECTED)]


def _iso_probe(ctx: Context) -> list[Check]:
    s = ctx.settings
    conn = ctx.connect("master (probe)", ctx.master.target.with_db(s.db_name))
    scratch = f"tenantdb_probe_{secrets.token_hex(4)}"
    p = _Probe(conn)
    mint = minter(s, conn)
    try:
        probe_rows(conn, s, scratch, p, mint)
        probe_real_tables(conn, s, p, mint)
        probe_pooled(conn, s, p, mint)
    finally:
        conn.rollback()
    left = conn.execute(_q("leftover"), (scratch,)).fetchone()
    conn.rollback()
    p.expect(left == (0,), "nothing left behind" if left == (0,) else f"schema {scratch} left behind")
    actual = f"as {s.app_role} (SET ROLE from the master): {len(p.found)} held"
    main = (failed(ID, TITLE, EXPECTED, actual, "; ".join(p.problems)) if p.problems
            else passed(ID, TITLE, EXPECTED, actual, "; ".join(p.found)))
    return [main, _role_check(ctx)]


def minter(s: Settings, master: psycopg.Connection) -> Callable[[str], str]:
    """tenant id -> the context an application passes to set_tenant: the id (plain), or a token
    (signed) minted with the key ring read once, as the master, from the database."""
    if s.tenant_context != "signed":
        return lambda tenant: tenant
    ring = context_key.ring(s, conn=master)
    ttl = min(300, s.context_token_max_ttl_s)  # outlives a slow probe; never beyond the longest lifetime
    return lambda tenant: ring.mint(tenant, ttl)


# ----- the scratch table ---------------------------------------------------------

def _setup(conn: psycopg.Connection, s: Settings, scratch: str, a: str, b: str) -> sql.Composable:
    """As the master then the migrator: a tenant-like schema, a table, rows of A and B, isolation on."""
    table = sql.Identifier(scratch, "probe")
    conn.execute(sql.SQL(";\n").join(roles.tenant_schema_sql(s, scratch)))
    conn.execute(_q("as_migrator", migrator=sql.Identifier(s.migrator_role)))
    conn.execute(_q("create_table", table=table))
    # Rows go in before isolation, so this session never sets a tenant context before the "unset" reads.
    conn.execute(_q("seed_rows", table=table), (a, a, b))
    conn.execute(_q("isolate", tenancy=sql.Identifier(s.tenancy_schema)), (scratch,))
    conn.execute(_q("as_app_user", app_role=sql.Identifier(s.app_role)))
    return table


def probe_rows(conn: psycopg.Connection, s: Settings, scratch: str, p: _Probe,
               mint: Callable[[str], str]) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    with conn.transaction(force_rollback=True):
        table = _setup(conn, s, scratch, a, b)
        who = conn.execute(_q("whoami"), (s.tenant_setting,)).fetchone()
        if who is None or who[0] != s.app_role:
            p.problems.append(f"running as {who[0] if who else '?'}, not {s.app_role}")
            return
        unset = "unset" if who[1] else "reset"
        forged = [(unset, None), ("empty", ""), *((f"malformed {m!r}", m) for m in MALFORMED)]
        if s.tenant_context == "signed":
            forged.append(("unsigned bare id", a))
        for label, value in forged:
            if value is not None:
                _forge(conn, s, value)
            _no_context(conn, table, a, label, p)
        _set_tenant(conn, s, mint(a))
        _as_tenant_a(conn, table, a, b, p)
        _attacks(conn, s, table, p)


def _forge(conn: psycopg.Connection, s: Settings, value: str) -> None:
    """Write the tenant setting directly, bypassing the helper, as an attacker would."""
    conn.execute(_q("forge_context"), (s.tenant_setting, value))


def _set_tenant(conn: psycopg.Connection, s: Settings, context: str) -> None:
    """As an application: the helper, the context a bound parameter."""
    conn.execute(_q("set_tenant", tenancy=sql.Identifier(s.tenancy_schema)), (context,))


def _count(conn: psycopg.Connection, table: sql.Composable, tenant: str | None = None) -> int:
    """Rows the current context reads: all of them, or those of ``tenant``."""
    query, args = (_q("count", table=table), ()) if tenant is None else (_q("count_tenant", table=table), (tenant,))
    row = conn.execute(query, args).fetchone()
    return int(row[0]) if row else -1


def _no_context(conn: psycopg.Connection, table: sql.Composable, a: str, label: str, p: _Probe) -> None:
    """Without a valid context: nothing read, no insert, no update or delete (one line when all held)."""
    sub = _Probe(conn)
    try:
        with conn.transaction():
            n = _count(conn, table)
        sub.expect(n == 0, f"reads {n} rows")
    except psycopg.Error as exc:
        sub.problems.append(f"reading raised {db.first_line(exc)} instead of matching nothing")
    sub.refused(lambda: conn.execute(_q("insert_without_context", table=table), (a,)), "insert")
    for verb, name in (("update", "update_all"), ("delete", "delete_all")):
        sub.touches_none(_q(name, table=table), (), verb)
    if sub.problems:
        p.problems += [f"{label} context: {x}" for x in sub.problems]
    else:
        p.found.append(f"{label} context: reads 0 rows, insert refused, update and delete touch none")


def _as_tenant_a(conn: psycopg.Connection, table: sql.Composable, a: str, b: str, p: _Probe) -> None:
    seen = sorted(str(r[0]) for r in conn.execute(_q("visible", table=table)))
    p.expect(seen == [a, a], f"A reads {len(seen)} rows, {sum(t != a for t in seen)} of another tenant")
    p.expect(_count(conn, table, b) == 0, "A reading B's rows by id finds none")
    p.refused(lambda: conn.execute(_q("insert_for_other", table=table), (b,)), "A inserting a row for B")
    for verb, name in (("update", "update_other"), ("delete", "delete_other")):
        p.touches_none(_q(name, table=table), (b,), f"A's {verb} of B's rows")
    p.refused(lambda: conn.execute(_q("move_rows", table=table), (b,)),
              "A moving its rows to B")


def _attacks(conn: psycopg.Connection, s: Settings, table: sql.Composable, p: _Probe) -> None:
    """DDL an attacker holding app_user's login would try (sql/verify/probe/attack_*.sql): each needs
    ownership, and each is reported on its own."""
    for what, name in (
        ("disabling RLS", "attack_disable_rls"),
        ("NO FORCE RLS", "attack_no_force_rls"),
        ("dropping the tenant policy", "attack_drop_policy"),
        ("adding an always-true policy", "attack_open_policy"),
        ("altering the table", "attack_alter_table"),
        ("truncating (ignores RLS)", "attack_truncate"),
    ):
        p.refused(lambda name=name: conn.execute(_q(name, table=table)), f"app_user {what}")


# ----- the real tenant tables ----------------------------------------------------



def probe_real_tables(conn: psycopg.Connection, s: Settings, p: _Probe, mint: Callable[[str], str]) -> None:
    """One DO block over the real isolated tables in tenant schemas, as app_user; it raises on a leak.

    A stranger (a random tenant id) is one of the contexts: on it every row is
    "of another tenant", so it must see nothing at all. The registered tenants
    are read first, as the master, so that their contexts can be minted here.
    """
    ids = [str(r[0]) for r in conn.execute(sqlfiles.named("verify/registered_tenants", {
        "registry": sql.Identifier(s.tenancy_schema, "tenants"), "max_tenants": sql.Literal(REAL_TENANTS)}))]
    conn.rollback()
    contexts = [mint(t) for t in (str(uuid.uuid4()), *ids)]
    notices: list[str] = []
    handler = lambda diag: notices.append(diag.message_primary or "")  # noqa: E731 - a one-line local helper reads better as a lambda
    conn.add_notice_handler(handler)
    block = sqlfiles.named("verify/probe_real_tables", {
        "registry": sql.Identifier(s.tenancy_schema, "tenants"), "app": sql.Literal(s.app_role),
        "contexts": sql.Literal(contexts), "tenancy": sql.Identifier(s.tenancy_schema),
        "max_tables": sql.Literal(REAL_TABLES)})
    try:
        with conn.transaction(force_rollback=True):
            conn.execute(block)  # DO takes no bind parameters: values are quoted literals
    except psycopg.Error as exc:
        p.problems.append(f"real tables: {db.first_line(exc)}")
        return
    finally:
        conn.remove_notice_handler(handler)
    probed = next((n.removeprefix("probed ") for n in notices if n.startswith("probed ")), "?")
    p.found.append(f"real tenant tables: {probed} probed, none sees another tenant's rows")


# ----- pooled connections --------------------------------------------------------

def probe_pooled(conn: psycopg.Connection, s: Settings, p: _Probe, mint: Callable[[str], str]) -> None:
    """A context set by the helper (transaction-local) is gone in the next transaction on the same connection."""
    context = mint(str(uuid.uuid4()))
    conn.rollback()  # no enclosing transaction: the block below must be a whole transaction, not a savepoint
    with conn.transaction():
        _set_tenant(conn, s, context)
    row = conn.execute(_q("pooled_after", tenancy=sql.Identifier(s.tenancy_schema)), (s.tenant_setting,)).fetchone()
    conn.rollback()
    p.expect(row is not None and row[1] is None and row[0] in (None, ""),
             "SET LOCAL context gone in the next transaction" if row and row[1] is None
             else f"SET LOCAL context survived into the next transaction ({row[0] if row else '?'})")


# ----- SET ROLE, on app_user's own login -----------------------------------------

def _role_check(ctx: Context) -> Check:
    s = ctx.settings
    if not ctx.via_aws:
        return skipped(ROLE_ID, ROLE_TITLE, "--master-dsn: no app_user login to try it on (SET ROLE checks the "
                       "session user, the master here); ISO-MEMBERSHIP checks the memberships in the catalog",
                       ROLE_EXPECTED)
    try:
        conn = ctx.connect(s.app_role, ctx.app_target())
    except Exception as exc:  # noqa: BLE001 - cannot run: ERROR, never PASS
        return errored(ROLE_ID, ROLE_TITLE, f"cannot log in as {s.app_role}: {db.first_line(exc)}", ROLE_EXPECTED)
    try:
        mint = minter(s, ctx.master_db)
    except Exception as exc:  # noqa: BLE001 - cannot run: ERROR, never PASS
        return errored(ROLE_ID, ROLE_TITLE, f"cannot mint a tenant context: {db.first_line(exc)}", ROLE_EXPECTED)
    return probe_set_role(conn, s, ctx.master.target.user, mint)


def probe_set_role(conn: psycopg.Connection, s: Settings, master: str,
                   mint: Callable[[str], str] = lambda tenant: tenant) -> Check:
    """On app_user's own login: SET ROLE to each privileged role fails; SET LOCAL does not leak."""
    p = _Probe(conn)
    try:
        who = conn.execute(_q("session_user")).fetchone()
        conn.rollback()
        if who is None or who[0] != s.app_role:
            return failed(ROLE_ID, ROLE_TITLE, ROLE_EXPECTED, f"session user {who[0] if who else '?'}",
                          f"not logged in as {s.app_role}")
        with conn.transaction(force_rollback=True):
            for role in sorted({s.migrator_role, s.platform_admin_role, s.master_username, master}):
                p.refused(lambda role=role: conn.execute(_q("set_role", role=sql.Identifier(role))),
                          f"SET ROLE {role}")
        probe_pooled(conn, s, p, mint)
    finally:
        conn.rollback()
    actual = f"on {s.app_role}'s own login: {len(p.found)} held"
    if p.problems:
        return failed(ROLE_ID, ROLE_TITLE, ROLE_EXPECTED, actual, "; ".join(p.problems))
    return passed(ROLE_ID, ROLE_TITLE, ROLE_EXPECTED, actual, "; ".join(p.found))
