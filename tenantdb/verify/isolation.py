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
come back is a failure. The attempts are declared once, as records
(:class:`tenantdb.verify.batch.Attempt`), which give both the statements sent
and the results expected; a statement ISO-PROBE makes too is its file in
sql/verify/probe/, the rest are AC10's own in sql/verify/isolation/.
"""

from __future__ import annotations

import secrets
import uuid

import psycopg
from psycopg import sql

from tenantdb import checks
from tenantdb.database.plumbing import connection as db
from tenantdb.report import Check, errored, failed
from tenantdb.settings import Settings
from tenantdb.verify import batch
from tenantdb.verify.batch import Attempt, Statement
from tenantdb.verify.context import Context
from tenantdb.verify.probe import minter
from tenantdb.verify.signed_context import register_scratch, registered_pair

AC10 = checks.get("AC10")
"""The registry's row: the id this module reports and its one title."""
EXPECTED = ("A sees only A's rows; no/empty/malformed context sees none; A cannot write B's rows; "
            "nothing left behind")

TEXTS = batch.Texts(rows="{what} sees {n} rows", rows_raised="{what} raised instead of matching nothing: {error}",
                    touched="{what} touched {n}", refused="{what} refused by the policy")
"""AC10's wording (its report predates ISO-PROBE's)."""

WHOAMI = Attempt("whoami", "require", "", "probe/whoami")
FRESH = Attempt("fresh", "check", "current_tenant_id()", "isolation/no_context_yet")
RLS = Attempt("rls", "check", "RLS", "isolation/rls_state")
NO_CONTEXT = Attempt("no_context", "count", "no context", "probe/count")
A_SEES = Attempt("a_sees", "check", "", "probe/visible", whose="a")
"""ISO-PROBE's read of A's rows; AC10 words what it found its own way (:func:`_worded`)."""
FORGED = (Attempt(".forge", "forge", "{label} context: writing the setting", "probe/forge_context"),
          Attempt("", "count", "{label} context", "probe/count"))
"""What each forged context does (keyed ``forged<i>``): written to the setting, then a read."""
WRITES = (Attempt("insert_b", "policy", "insert of B's row", "probe/insert_for_other", "b"),
          Attempt("update_b", "none", "update of B's rows", "probe/update_other", "b"),
          Attempt("delete_b", "none", "delete of B's rows", "probe/delete_other", "b"),
          Attempt("move", "policy", "moving A's rows to B", "probe/move_rows", "b"))
"""What A tries on B's rows."""
LEFTOVER = Attempt("leftover", "check", "", "probe/leftover")
QUIET = ("whoami", "fresh", ".forge")
"""Keys (or key endings) shown only when they fail."""


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
    forged = [("empty", ""), ("malformed", "not-a-uuid")]
    if s.tenant_context == "signed":
        forged.append(("unsigned bare id", a))
    res = batch.Results()
    statements = _statements(conn, s, res, how, scratch, {"a": a, "b": b}, minter(ctx)(a), forged, register)
    leftover = batch.attempts(conn, res, [LEFTOVER.step({"schema": sql.Literal(scratch)})])
    batch.run(conn, res, [*statements, leftover], after_failure=[leftover], what=f"verify {AC10.id}")
    if "whoami" in res.got and not res.got["whoami"][0]:
        who = res.got["whoami"][1].removeprefix("fact:")
        return failed(AC10.id, AC10.title, EXPECTED, f"as {s.app_role} ({how})", who)
    if res.stopped and not res.got.keys() - {"leftover"}:
        holders = f"; {res.holders}" if res.holders else ""
        return errored(AC10.id, AC10.title, f"the proof could not run: {res.stopped}{holders}", EXPECTED)
    lines, extra = batch.judge(res, res.expected, TEXTS)
    found = [_worded(res, key, line) for key, ok, line in lines if ok and not key.endswith(QUIET)]
    problems = [_worded(res, key, line) for key, ok, line in lines if not ok] + extra
    actual = f"as {s.app_role} ({how}): " + "; ".join(found)
    return batch.verdict(AC10, EXPECTED, res, actual, problems, texts=TEXTS)


def _worded(res: batch.Results, key: str, line: str) -> str:
    """AC10's words for A's read: "A sees its 2 rows of 3" (the three it put in), or what A saw instead."""
    if key != A_SEES.key or not res.got.get(key, (False, ""))[1].startswith("fact:"):
        return line
    return "A sees its 2 rows of 3" if res.got[key][0] and key not in res.repeated else f"tenant A sees {line}"


def _app_session(ctx: Context) -> tuple[psycopg.Connection, str]:
    """app_user's own login when the secret has one; else the master's connection with SET ROLE."""
    if ctx.via_aws:
        try:
            return ctx.connect("app_user", ctx.app_target()), "login from the connection secret"
        except Exception as exc:  # noqa: BLE001 - fall back, and say so; AC9 reports the secret's fault
            reason = db.first_line(exc)
            return ctx.master_db, f"SET ROLE from the master, since the secret's login failed: {reason}"
    return ctx.master_db, "SET ROLE from the master"


def _statements(conn: psycopg.Connection, s: Settings, res: batch.Results, how: str, scratch: str,
                tenants: dict[str, str], a_context: str, forged: list[tuple[str, str]],
                register: dict[str, str]) -> list[Statement]:
    """The whole proof, in order, for one pipeline; ``tenants``: A's and B's ids (keys "a", "b")."""
    tenancy = sql.Identifier(s.tenancy_schema)
    setting = sql.Literal(s.tenant_setting)
    out: list[Statement] = [batch.plain("probe/begin")]
    if register:  # as the master, for this transaction only
        out.append((register_scratch(s, register), None))
    if how.startswith("SET ROLE"):
        out.append(batch.plain("probe/as_app_user", app_role=sql.Identifier(s.app_role)))
    out.append(batch.attempts(conn, res, [WHOAMI.step({"app": sql.Literal(s.app_role), "setting": setting}),
                                          FRESH.step({"tenancy": tenancy})]))
    table, create = _create_table(s.app_create_on_database, scratch)
    # Rows of two tenants go in before RLS is switched on, so this session never sets a context
    # until the "no context" read below.
    out += [*create, batch.plain("probe/seed_rows", table=table, a=sql.Literal(tenants["a"]),
                                 b=sql.Literal(tenants["b"])),
            batch.plain("isolation/enable_rls", table=table),
            batch.plain("isolation/create_policy", table=table, tenancy=tenancy)]
    out.append(batch.attempts(conn, res, [RLS.step({"table_name": sql.Literal(table.as_string(conn))}),
                                          NO_CONTEXT.step({"table": table})]))
    values = {"table": table, "setting": setting}
    reads = [A_SEES.step(values, tenants=tenants)]
    forge, read = FORGED
    for i, (label, value) in enumerate(forged):
        at = {**values, "value": sql.Literal(value)}
        reads += [forge.step(at, at=f"forged{i}", label=label),
                  read.step(at, at=f"forged{i}", label=label, kind=batch.in_forged(read.kind, value))]
    writes = [w.step(values, tenants=tenants) for w in WRITES]
    set_a = (batch.q("probe/set_tenant", tenancy=tenancy), (a_context,))
    out += [set_a, batch.attempts(conn, res, reads), set_a, batch.attempts(conn, res, writes)]
    return [*out, batch.plain("probe/rollback")]


def _create_table(in_schema: bool, scratch: str) -> tuple[sql.Composable, list[Statement]]:
    """A scratch schema when app_user may create one (AC8's CREATE), else a temporary table."""
    if in_schema:
        table: sql.Composable = sql.Identifier(scratch, "rls_probe")
        return table, [batch.plain("isolation/create_schema", schema=sql.Identifier(scratch)),
                       batch.plain("probe/create_table", table=table)]
    table = sql.Identifier("pg_temp", f"{scratch}_probe")
    return table, [batch.plain("isolation/create_temp_table", table=sql.Identifier(f"{scratch}_probe"))]
