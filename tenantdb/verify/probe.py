"""ISO-PROBE: tenant isolation proven live, as app_user, inside transactions that are rolled back.

The scratch table is set up the way real tenant tables are: a schema made by
:func:`tenantdb.database.bootstrap.roles.tenant_schema_sql` (owned by the migrator, with its
default privileges), a table the migrator creates there, isolated by
``tenancy.enable_isolation``. Then, as app_user (SET ROLE from a fresh master
session, so the tenant setting has never existed in it):

- no context, an empty one and malformed ones: reads see nothing, writes are refused; in plain
  mode a malformed one makes every statement fail with 22P02 (not a tenant id), accepted as a
  refusal for those contexts only (fails closed, loudly);
- tenant A's context: only A's rows are visible; B's rows cannot be read, inserted,
  updated or deleted, and A's rows cannot be moved to B;
- app_user cannot switch row security off, drop a policy, alter or truncate the table;
- on the real tenant tables (up to :data:`REAL_TABLES`), every registered tenant's
  context sees no row of another tenant, a stranger's context sees nothing, and
  neither does any forged context written straight to the setting;
- a context set with SET LOCAL does not survive into the next transaction.

All of it is one pipeline (tenantdb/verify/batch.py): the attacks run server-side,
each in its own undone sub-transaction, and each reports on its own; a result that
does not come back is a failure. Each attempt is declared once, as a record
(:class:`tenantdb.verify.batch.Attempt`) that gives both the statement sent and the
result expected. Round trips: the registered tenants (to mint their
contexts), then the pipeline, rollback and "nothing left behind" included.

A valid context is set the way an application sets it, ``SELECT
tenancy.set_tenant(%s)``, with what the mode asks for: the tenant id (plain)
or a token minted with the database's current key (signed, read once per run
as the master); forged contexts are written to the setting directly. In signed
mode a bare tenant id is one of the forged contexts. Tokens travel as bound
parameters, never in statement text.

ISO-PROBE-ROLE needs app_user's own login (the connection secret): SET ROLE
checks the *session* user's memberships, so from a master session it would
prove nothing. It tries SET ROLE to the migrator, the master and
platform_admin, each of which must fail, and repeats the pooled-connection
test on that login, in one pipeline. With ``--master-dsn`` there is no such
login: SKIP, said so.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable

import psycopg
from psycopg import sql

from tenantdb import checks
from tenantdb.database.bootstrap import roles
from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import sqlfiles
from tenantdb.report import Check, errored, failed, skipped
from tenantdb.settings import Settings
from tenantdb.verify import batch
from tenantdb.verify.batch import Attempt, Statement
from tenantdb.verify.context import Context
from tenantdb.verify.signed_context import register_scratch, registered

PROBE, ROLE = checks.get("ISO-PROBE"), checks.get("ISO-PROBE-ROLE")
"""The registry's rows: the ids this module reports and their one titles."""
EXPECTED = ("no/empty/malformed context: nothing read, writes refused; A cannot read or write B's rows; "
            "app_user cannot alter RLS; real tenant tables hide other tenants and show forged contexts nothing; "
            "SET LOCAL does not leak; nothing left behind")
ROLE_EXPECTED = "SET ROLE to the migrator, master and platform_admin refused on app_user's own login"

REAL_TABLES = 200
"""Real isolated tables probed at most (all in the same round trip)."""
REAL_TENANTS = 20
"""Registered tenants whose context is probed on them at most."""

MALFORMED = ("not-a-uuid", "' OR '1'='1", "00000000-0000-0000-0000-00000000000g", " ")

WHOAMI = Attempt("whoami", "require", "", "probe/whoami")
FORGE = Attempt(".forge", "forge", "{label} context: writing the setting", "probe/forge_context")
"""An invalid context written to the setting (keyed ``ctx<i>.forge``), for the attempts after it."""
BLIND = (Attempt(".read", "count", "{label} context:", "probe/count"),
         Attempt(".insert", "refused", "{label} context: insert", "probe/insert_without_context", "a"),
         Attempt(".update", "none", "{label} context: update", "probe/update_all"),
         Attempt(".delete", "none", "{label} context: delete", "probe/delete_all"))
"""What a session without a valid context tries (keyed ``ctx<i>.read`` ...)."""
AS_A = (Attempt("a_reads", "check", "A reads", "probe/visible", "a"),
        Attempt("a_by_id", "count", "A reading B's rows by id:", "probe/count_tenant", "b"),
        Attempt("a_insert_b", "refused", "A inserting a row for B", "probe/insert_for_other", "b"),
        Attempt("a_update_b", "none", "A's update of B's rows", "probe/update_other", "b"),
        Attempt("a_delete_b", "none", "A's delete of B's rows", "probe/delete_other", "b"),
        Attempt("a_move", "refused", "A moving its rows to B", "probe/move_rows", "b"))
"""What tenant A tries."""
ATTACKS = tuple(Attempt(f"attack.{name}", "refused", f"app_user {what}", f"probe/{name}") for what, name in (
    ("disabling RLS", "attack_disable_rls"), ("NO FORCE RLS", "attack_no_force_rls"),
    ("dropping the tenant policy", "attack_drop_policy"), ("adding an always-true policy", "attack_open_policy"),
    ("altering the table", "attack_alter_table"), ("truncating (ignores RLS)", "attack_truncate")))
"""DDL an attacker holding app_user's login would try: each needs ownership, each reported on its own."""
REAL = ("real", "check", "real tenant tables:")
"""What the block over the real tenant tables reports (sql/verify/probe_real_tables.sql)."""
POOLED = Attempt("pooled", "check", "SET LOCAL context", "probe/pooled_after")
LEFTOVER = Attempt("leftover", "check", "", "probe/leftover")
SESSION_USER = Attempt("session_user", "require", "", "probe/session_user")
SET_ROLE = Attempt("", "refused", "SET ROLE {label}", "probe/set_role")
"""SET ROLE to a privileged role (keyed ``role<i>``), on app_user's own login."""


def iso_probe(ctx: Context) -> list[Check]:
    """ISO-PROBE and ISO-PROBE-ROLE; when the probe cannot run, both are ERROR with the reason."""
    try:
        mint = minter(ctx)
        main = _iso_probe(ctx, mint)
    except Exception as exc:  # noqa: BLE001 - fail closed, under both ids
        reason = f"{type(exc).__name__}: {db.first_line(exc)}"
        return [errored(PROBE.id, PROBE.title, reason, EXPECTED), errored(ROLE.id, ROLE.title, reason, ROLE_EXPECTED)]
    return [main, _role_check(ctx, mint)]


def minter(ctx: Context) -> Callable[[str], str]:
    """tenant id -> the context an application passes to set_tenant: the id (plain), or a token
    (signed) minted with the run's key ring (read with the catalog, as the master: no round trip
    of its own)."""
    s = ctx.settings
    if s.tenant_context != "signed":
        return lambda tenant: tenant
    ring = ctx.key_ring
    ttl = min(300, s.context_token_max_ttl_s)  # outlives a slow probe; never beyond the longest lifetime
    return lambda tenant: ring.mint(tenant, ttl)


def _iso_probe(ctx: Context, mint: Callable[[str], str]) -> Check:
    s = ctx.settings
    conn = ctx.open("master (probe)", ctx.master.target.with_db(s.db_name))
    # One round trip before the probe: this session's TLS and the tenants whose contexts it mints.
    tls, registered = db.read_only_batch(conn, [sqlfiles.named("session/tls"), sqlfiles.named(
        "verify/registered_tenants", {"registry": sql.Identifier(s.tenancy_schema, "tenants"),
                                      "max_tenants": sql.Literal(REAL_TENANTS)})])
    for rows in (tls, registered):
        if isinstance(rows, BaseException):
            raise rows
    ctx.record_tls(conn, tls[0] if tls else None)
    ids = [str(r["tenant_id"]) for r in registered]
    scratch = f"tenantdb_probe_{secrets.token_hex(4)}"
    a, b, stranger = str(uuid.uuid4()), str(uuid.uuid4()), str(uuid.uuid4())
    res = batch.Results()
    forged = _forged(s, a)
    # Signed mode: set_tenant refuses a tenant that is not registered, so the probe's own tenants are
    # registered for its rolled-back transaction (by the master, before it becomes the migrator and app_user).
    register = {a: f"{scratch}_a", b: f"{scratch}_b", stranger: f"{scratch}_s"} if s.tenant_context == "signed" else {}
    statements = [*_rows(conn, s, res, scratch, {"a": a, "b": b}, forged, mint(a), register),
                  *_real_tables(s, res, [mint(t) for t in (stranger, *ids)], _forged(s, ids[0] if ids else a)),
                  batch.plain("probe/rollback"),
                  *_pooled(conn, s, res, *_pooled_context(s, mint, ids), as_app=True)]
    leftover = batch.attempts(conn, res, [LEFTOVER.step({"schema": sql.Literal(scratch)})])
    batch.run(conn, res, [*statements, leftover], after_failure=[leftover], what=f"verify {PROBE.id}")
    found, problems = _sort(res, forged)
    actual = f"as {s.app_role} (SET ROLE from the master): {len(found)} held"
    if res.stopped and not res.got.keys() - {"leftover"}:
        return errored(PROBE.id, PROBE.title, f"the probe could not run: {res.stopped}{_holders(res)}", EXPECTED)
    return batch.verdict(PROBE, EXPECTED, res, actual, problems, "; ".join(found))


def _holders(res: batch.Results) -> str:
    return f"; {res.holders}" if res.holders else ""


def _forged(s: Settings, a: str) -> list[tuple[str, str | None]]:
    """(label, value written to the setting; None: left as the session has it) of each invalid context."""
    forged = [("unset", None), ("empty", ""), *((f"malformed {m!r}", m) for m in MALFORMED)]
    if s.tenant_context == "signed":
        forged.append(("unsigned bare id", a))
    return forged


def _sort(res: batch.Results, forged: list[tuple[str, str | None]]) -> tuple[list[str], list[str]]:
    """(found, problems); a context whose four attempts all held is one line, as is a stopped probe's cause."""
    if "whoami" in res.got and not res.got["whoami"][0]:
        return [], [res.got["whoami"][1].removeprefix("fact:")]
    session = res.got.get("whoami", (True, "fact:unset"))[1].removeprefix("fact:")
    lines, extra = batch.judge(res, res.expected)
    found: list[str] = []
    problems: list[str] = []
    by_context: dict[str, list[tuple[bool, str]]] = {}
    for key, ok, line in lines:
        if key == "whoami" or (ok and key.endswith(FORGE.key)):
            continue
        if key.startswith("ctx0."):
            line = line.replace("unset context", f"{session} context", 1)
        if key.startswith("ctx") and ok:
            by_context.setdefault(key.split(".")[0], []).append((ok, line))
            continue
        (found if ok else problems).append(line)
    for i, (label, _) in enumerate(forged):
        held = by_context.get(f"ctx{i}", [])
        summary = _summary([res.got[f"ctx{i}{a.key}"][1] for a in BLIND]) if len(held) == len(BLIND) else None
        if summary:
            found.insert(i, f"{session if i == 0 else label} context: {summary}")
        else:
            found += [line for _, line in held]
    return found, problems + extra


def _summary(outcomes: list[str]) -> str | None:
    """One phrase for a context whose four attempts all held the same way; None when they held in mixed ways."""
    if all(o == "notid" for o in outcomes):
        return "reads and writes refused (not a tenant id, 22P02)"
    if "notid" not in outcomes:
        return "reads 0 rows, insert refused, update and delete touch none"
    return None


# ----- the scratch table ---------------------------------------------------------

def _rows(conn: psycopg.Connection, s: Settings, res: batch.Results, scratch: str, tenants: dict[str, str],
          forged: list[tuple[str, str | None]], a_context: str, register: dict[str, str]) -> list[Statement]:
    """As the master then the migrator: a tenant-like schema, a table, rows of A and B (``tenants``: their ids,
    keys "a", "b"), isolation on; then as app_user the invalid contexts, A's context set with the helper, and
    A's attempts."""
    table = sql.Identifier(scratch, "probe")
    setup: list[Statement] = [batch.plain("probe/begin"), *((q, None) for q in roles.tenant_schema_sql(s, scratch))]
    if register:
        setup.append((register_scratch(s, register), None))
    setup += [batch.plain("probe/as_migrator", migrator=sql.Identifier(s.migrator_role)),
              batch.plain("probe/create_table", table=table),
              # Rows go in before isolation, so this session never sets a tenant context before the "unset" reads.
              batch.plain("probe/seed_rows", table=table, a=sql.Literal(tenants["a"]), b=sql.Literal(tenants["b"])),
              batch.plain("probe/isolate", tenancy=sql.Identifier(s.tenancy_schema), schema=sql.Literal(scratch)),
              batch.plain("probe/reset_role"),
              batch.plain("probe/as_app_user", app_role=sql.Identifier(s.app_role))]
    setting = sql.Literal(s.tenant_setting)
    values = {"table": table, "setting": setting}
    blind = [WHOAMI.step({"app": sql.Literal(s.app_role), "setting": setting})]
    for i, (label, value) in enumerate(forged):
        if value is not None:
            blind.append(FORGE.step({**values, "value": sql.Literal(value)}, at=f"ctx{i}", label=label))
        blind += [a.step(values, at=f"ctx{i}", label=label, kind=batch.in_forged(a.kind, value), tenants=tenants)
                  for a in BLIND]
    as_a = [a.step(values, tenants=tenants) for a in (*AS_A, *ATTACKS)]
    return [*setup, batch.attempts(conn, res, blind),
            (batch.q("probe/set_tenant", tenancy=sql.Identifier(s.tenancy_schema)), (a_context,)),
            batch.attempts(conn, res, as_a)]


# ----- the real tenant tables ----------------------------------------------------

def _real_tables(s: Settings, res: batch.Results, contexts: list[str],
                 forged: list[tuple[str, str | None]]) -> list[Statement]:
    """One DO block over the real isolated tables in tenant schemas, as app_user (sql/verify/probe_real_tables.sql).

    A stranger (a random tenant id) is the first context: on it every row is "of
    another tenant", so it must see nothing at all. The contexts (tokens in signed
    mode) reach the block as a bound parameter. Each forged context is then written
    straight to the setting and must see no row at all, a 22P02 refusal allowed as
    :func:`batch.in_forged` says (in signed mode the bare id is a registered tenant's,
    so a verifier that trusts it shows); forged values are no secret: a literal."""
    # The setting has existed by then (set_tenant ran): "unset" is the setting reset, and says so.
    rows = [["reset" if value is None else label, value, batch.in_forged("count", value)] for label, value in forged]
    block = sqlfiles.named("verify/probe_real_tables", {
        "registry": sql.Identifier(s.tenancy_schema, "tenants"), "app": sql.Literal(s.app_role),
        "tenancy": sql.Identifier(s.tenancy_schema), "max_tables": sql.Literal(REAL_TABLES),
        "nonce": sql.Literal(res.nonce), "setting": sql.Literal(s.tenant_setting), "forged": sql.Literal(rows)})
    res.expect(REAL)
    return [batch.plain("probe/reset_role"), (batch.q("probe/stash_contexts"), (contexts,)), (block, None)]


# ----- pooled connections --------------------------------------------------------

def _pooled_context(s: Settings, mint: Callable[[str], str], ids: list[str]) -> tuple[str, bool]:
    """(context, set through the helper?) for the pooled test, which commits: a registered tenant's (the
    helper accepts no other in signed mode, and a scratch registration would commit with it); in signed
    mode with none registered, the token goes straight to the setting, transaction-locally as the helper
    writes it."""
    if s.tenant_context != "signed":
        return mint(str(uuid.uuid4())), True
    return (mint(ids[0]), True) if ids else (mint(str(uuid.uuid4())), False)


def _pooled(conn: psycopg.Connection, s: Settings, res: batch.Results, context: str, helper: bool,
            as_app: bool) -> list[Statement]:
    """A context set by the helper (transaction-local) in a transaction that commits is gone in the next
    transaction on the same connection; as app_user (SET LOCAL ROLE from the master, or its own login)."""
    role = [batch.plain("probe/as_app_user", app_role=sql.Identifier(s.app_role))] if as_app else []
    tenancy = sql.Identifier(s.tenancy_schema)
    setting = sql.Literal(s.tenant_setting)
    check = POOLED.step({"setting": setting, "tenancy": tenancy})
    put = batch.q("probe/set_tenant", tenancy=tenancy) if helper else batch.q("probe/set_context", setting=setting)
    return [batch.plain("probe/begin"), *role, (put, (context,)),
            batch.plain("probe/commit"), batch.plain("probe/begin"), *role, batch.attempts(conn, res, [check]),
            batch.plain("probe/rollback")]


# ----- SET ROLE, on app_user's own login -----------------------------------------

def _role_check(ctx: Context, mint: Callable[[str], str]) -> Check:
    s = ctx.settings
    if not ctx.via_aws:
        return skipped(ROLE.id, ROLE.title, "--master-dsn: no app_user login to try it on (SET ROLE checks the "
                       "session user, the master here); ISO-MEMBERSHIP checks the memberships in the catalog",
                       ROLE_EXPECTED)
    try:
        conn = ctx.connect(s.app_role, ctx.app_target())
    except Exception as exc:  # noqa: BLE001 - cannot run: ERROR, never PASS
        return errored(ROLE.id, ROLE.title, f"cannot log in as {s.app_role}: {db.first_line(exc)}", ROLE_EXPECTED)
    ids = registered(ctx, 1) if s.tenant_context == "signed" else []
    return probe_set_role(conn, s, ctx.master.target.user, mint, ids)


def probe_set_role(conn: psycopg.Connection, s: Settings, master: str,
                   mint: Callable[[str], str] = lambda tenant: tenant, ids: list[str] | None = None) -> Check:
    """On app_user's own login, one pipeline: SET ROLE to each privileged role fails; SET LOCAL does not leak."""
    res = batch.Results()
    wanted = sorted({s.migrator_role, s.platform_admin_role, s.master_username, master})
    steps = [SESSION_USER.step({"app": sql.Literal(s.app_role)})]
    steps += [SET_ROLE.step({"role": sql.Identifier(r)}, at=f"role{i}", label=r) for i, r in enumerate(wanted)]
    statements = [batch.attempts(conn, res, steps), *_pooled(conn, s, res, *_pooled_context(s, mint, ids or []), False)]
    batch.run(conn, res, statements, what=f"verify {ROLE.id}")
    if "session_user" in res.got and not res.got["session_user"][0]:
        who = res.got["session_user"][1].removeprefix("fact:")
        return failed(ROLE.id, ROLE.title, ROLE_EXPECTED, who, f"not logged in as {s.app_role}")
    lines, extra = batch.judge(res, res.expected)
    found = [line for key, ok, line in lines if ok and key != "session_user"]
    problems = [line for _, ok, line in lines if not ok] + extra
    actual = f"on {s.app_role}'s own login: {len(found)} held"
    if res.stopped and not res.got:
        return errored(ROLE.id, ROLE.title, f"the probe could not run: {res.stopped}{_holders(res)}", ROLE_EXPECTED)
    return batch.verdict(ROLE, ROLE_EXPECTED, res, actual, problems, "; ".join(found))
