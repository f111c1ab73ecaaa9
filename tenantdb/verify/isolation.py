"""AC10: row-level security proven as app_user, inside a transaction that is rolled back.

As app_user (logged in with the connection secret's credentials, or through
``SET ROLE`` from the master when there is no secret, as with
``--master-dsn``): create a scratch table, enable and force RLS, create the
tenant policy ``tenant_id = (SELECT tenancy.current_tenant_id())``, insert
rows of two tenants, then show that tenant A sees only its own rows, that no
context and an empty one see nothing (and raise nothing), that a malformed one
sees nothing or, in plain mode, is refused with 22P02 (not a tenant id: the
read fails, closed), and that A can neither insert, update nor delete B's
rows. A's context is set the way an application sets it, ``SELECT tenancy.set_tenant(%s)`` with what
the mode asks for (the id, or in signed mode a token minted with the
database's key, bound as a parameter); in signed mode A's bare id written to
the setting must see nothing too. Everything is rolled back; the check then
confirms nothing was left behind.

One pipeline (tenantdb/verify/batch.py), so one round trip (and, in signed mode,
the key read once per run to mint A's token): each attempt runs server-side in
its own undone sub-transaction and reports on its own; a result that does not
come back is a failure.
"""

from __future__ import annotations

import secrets
import uuid

import psycopg
from psycopg import sql

from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import sqlfiles
from tenantdb.report import Check, errored, failed, passed
from tenantdb.settings import Settings
from tenantdb.verify import batch
from tenantdb.verify.batch import Statement, Step
from tenantdb.verify.context import Context
from tenantdb.verify.probe import minter
from tenantdb.verify.signed_context import register_scratch, registered_pair

ID, TITLE = "AC10", "Row-level security proven as app_user (rolled back)"
EXPECTED = ("A sees only A's rows; no/empty/malformed context sees none; A cannot write B's rows; "
            "nothing left behind")

TEXTS = batch.Texts(rows="{what} sees {n} rows", rows_raised="{what} raised instead of matching nothing: {error}",
                    touched="{what} touched {n}", refused="{what} refused by the policy")
"""AC10's wording (its report predates ISO-PROBE's)."""
WRITES = (("insert_b", "policy", "insert of B's row", "insert"),
          ("update_b", "none", "update of B's rows", "update_other"),
          ("delete_b", "none", "delete of B's rows", "delete_other"),
          ("move", "policy", "moving A's rows to B", "move_rows"))
"""What A tries on B's rows: (key, kind, what, sql/verify/isolation file)."""


def ac10_rls(ctx: Context) -> Check:
    s = ctx.settings
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    conn, how = _app_session(ctx)
    scratch = f"tenantdb_verify_{secrets.token_hex(4)}"
    # Signed mode: set_tenant refuses a tenant that is not registered. From the master's session A and B are
    # registered for the probe's transaction only; app_user's own login cannot write the registry, so it
    # takes two registered tenants (only the scratch table's rows carry their ids).
    register: dict[str, str] = {}
    if s.tenant_context == "signed":
        pair = None if how.startswith("SET ROLE") else registered_pair(ctx)
        if pair:
            a, b = pair
        else:
            if not how.startswith("SET ROLE"):
                conn, how = ctx.master_db, "SET ROLE from the master: fewer than two registered tenants for its login"
            register = {a: f"{scratch}_a", b: f"{scratch}_b"}
    a_context = minter(ctx)(a)
    res = batch.Results()
    forged = [("empty", ""), ("malformed", "not-a-uuid")]
    if s.tenant_context == "signed":
        forged.append(("unsigned bare id", a))
    leftover = batch.attempts(conn, res, [Step("leftover", "check", sqlfiles.named(
        "verify/probe/leftover", {"schema": sql.Literal(scratch)}))])
    batch.run(conn, res, [*_statements(conn, s, res, how, scratch, a, b, a_context, forged, register), leftover],
              after_failure=[leftover], what=f"verify {ID}")
    if "whoami" in res.got and not res.got["whoami"][0]:
        return failed(ID, TITLE, EXPECTED, f"as {s.app_role} ({how})", res.got["whoami"][1].removeprefix("fact:"))
    if res.stopped and not res.got.keys() - {"leftover"}:
        holders = f"; {res.holders}" if res.holders else ""
        return errored(ID, TITLE, f"the proof could not run: {res.stopped}{holders}", EXPECTED)
    expected = [("whoami", "require", ""), ("fresh", "check", "current_tenant_id()"), ("rls", "check", "RLS"),
                ("no_context", "count", "no context"), ("a_sees", "check", "")]
    for i, (label, _) in enumerate(forged):
        expected += [(f"forged{i}.forge", "forge", f"{label} context: writing the setting"),
                     (f"forged{i}", "count", f"{label} context")]
    expected += [(key, kind, what) for key, kind, what, _ in WRITES] + [("leftover", "check", "")]
    lines, extra = batch.judge(res, expected, TEXTS)
    quiet = {"whoami", "fresh", *(f"forged{i}.forge" for i in range(len(forged)))}  # shown only when they fail
    found = [line for key, ok, line in lines if ok and key not in quiet]
    problems = [line for _, ok, line in lines if not ok] + extra
    actual = f"as {s.app_role} ({how}): " + "; ".join(found)
    lock = batch.met_lock(res, problems, TEXTS)
    if lock:
        return errored(ID, TITLE, lock, EXPECTED)
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


SHARED = {"as_app_user": "as_app_user", "create_table": "create_table", "delete_other": "delete_other",
          "forge_context": "forge_context", "move_rows": "move_rows", "set_tenant": "set_tenant",
          "update_other": "update_other", "visible": "count"}
"""Statements AC10 makes exactly as ISO-PROBE does: one file each, in sql/verify/probe/."""


def _q(name: str, /, **values: sql.Composable) -> sql.Composed:
    """One statement of the proof: ISO-PROBE's file when the statement is the same, else
    sql/verify/isolation/<name>.sql."""
    if name in SHARED:
        return sqlfiles.named(f"verify/probe/{SHARED[name]}", values)
    return sqlfiles.named(f"verify/isolation/{name}", values)


def _statements(conn: psycopg.Connection, s: Settings, res: batch.Results, how: str, scratch: str, a: str, b: str,
                a_context: str, forged: list[tuple[str, str]], register: dict[str, str]) -> list[Statement]:
    """The whole proof, in order, for one pipeline."""
    tenancy = sql.Identifier(s.tenancy_schema)
    setting = sql.Literal(s.tenant_setting)
    out: list[Statement] = [batch.plain("probe/begin")]
    if register:  # as the master, for this transaction only
        out.append((register_scratch(s, register), None))
    if how.startswith("SET ROLE"):
        out.append((_q("as_app_user", app_role=sql.Identifier(s.app_role)), None))
    out.append(batch.attempts(conn, res, [Step("whoami", "require", _q("whoami", app=sql.Literal(s.app_role))),
                                          Step("fresh", "check", _q("no_context_yet", tenancy=tenancy))]))
    table, create = _create_table(s.app_create_on_database, scratch)
    out += create
    # Rows of two tenants go in before RLS is switched on, so this session never sets a context
    # until the "no context" read below.
    out += [(_q("insert", table=table, tenant=sql.Literal(t), note=sql.Literal(n)), None)
            for t, n in ((a, "a1"), (a, "a2"), (b, "b1"))]
    out += [(_q("enable_rls", table=table), None), (_q("create_policy", table=table, tenancy=tenancy), None)]
    name = sql.Literal(table.as_string(conn))
    out.append(batch.attempts(conn, res, [Step("rls", "check", _q("rls_state", table_name=name)),
                                          Step("no_context", "count", _q("visible", table=table))]))
    set_a = (_q("set_tenant", tenancy=tenancy), (a_context,))
    reads = [Step("a_sees", "check", _q("sees_own", table=table, tenant=sql.Literal(a)))]
    for i, (_, value) in enumerate(forged):
        reads += [Step(f"forged{i}.forge", "forge", _q("forge_context", setting=setting, value=sql.Literal(value))),
                  Step(f"forged{i}", batch.in_forged("count", value), _q("visible", table=table))]
    writes = [Step(key, kind, _q(file, table=table, tenant=sql.Literal(b), note=sql.Literal("forged")))
              for key, kind, _, file in WRITES]
    out += [set_a, batch.attempts(conn, res, reads), set_a, batch.attempts(conn, res, writes)]
    return [*out, batch.plain("probe/rollback")]


def _create_table(in_schema: bool, scratch: str) -> tuple[sql.Composable, list[Statement]]:
    """A scratch schema when app_user may create one (AC8's CREATE), else a temporary table."""
    if in_schema:
        table: sql.Composable = sql.Identifier(scratch, "rls_probe")
        return table, [(_q("create_schema", schema=sql.Identifier(scratch)), None),
                       (_q("create_table", table=table), None)]
    table = sql.Identifier("pg_temp", f"{scratch}_probe")
    return table, [(_q("create_temp_table", table=sql.Identifier(f"{scratch}_probe")), None)]
