"""AC10 and ISO-PROBE in both tenant context modes, against a real PostgreSQL 15.

The probes set a valid context the way an application does, ``SELECT
tenancy.set_tenant($1)`` with the id (plain) or a token minted with the
database's key (signed); in signed mode a bare id written to the setting is
one more forged context, and must see nothing. ISO-SIGNED runs on the same
probe engine: each forged attempt is reported on its own, in one round trip.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from pathlib import Path

import psycopg

from tenantdb import settings as settings_mod
from tenantdb import verify
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.report import Check, Status
from tenantdb.verify import signed_context
from tenantdb.verify.context import Context
from libpq_trace import traced
from tests.fixtures_pg import TEST_ENV
from tests.test_signed_context import Signed, signed, signed_overlay  # noqa: F401 - the signed-mode fixtures

PROBES = ("AC10", "ISO-PROBE")


def _checks(s: settings_mod.Settings, dsn: str) -> dict:
    return {c.id: c for c in verify.run(s, master_dsn=dsn).checks}


def test_ac10_and_iso_probe_pass_in_signed_then_plain_mode(signed: Signed, pg_master, pg_overlay):
    checks = _checks(signed.s, pg_master.dsn())
    for cid in PROBES:
        assert checks[cid].status is Status.PASS, (cid, checks[cid].detail)
    ac10 = checks["AC10"].actual
    assert "A sees its 2 rows of 3" in ac10 and "unsigned bare id context sees 0 rows" in ac10
    probe = checks["ISO-PROBE"].detail
    for held in ("unsigned bare id context: reads 0 rows, insert refused", "A reads 2 rows, 0 of another tenant",
                 "real tenant tables: 2 table(s) x 3 tenant context(s) probed",
                 "SET LOCAL context gone in the next transaction"):
        assert held in probe, held
    assert checks["ISO-SIGNED"].status is Status.PASS

    plain = settings_mod.load(TEST_ENV, pg_overlay)
    bootstrap.run(plain, master_dsn=pg_master.dsn())
    checks = _checks(plain, pg_master.dsn())
    for cid in PROBES:
        assert checks[cid].status is Status.PASS, (cid, checks[cid].detail)
    assert "unsigned bare id" not in checks["AC10"].actual + checks["ISO-PROBE"].detail  # the id is the context
    assert "real tenant tables: 2 table(s) x 3 tenant context(s) probed" in checks["ISO-PROBE"].detail


def test_a_verifier_that_also_trusts_a_bare_id_fails_both_in_signed_mode(signed: Signed, pg_master, pg_super):
    # Someone "eases adoption": the verifier takes a token's id without its MAC, or a bare uuid.
    pg_super.execute(
        "CREATE OR REPLACE FUNCTION tenancy.current_tenant_id() RETURNS uuid LANGUAGE sql STABLE AS $$ "
        "SELECT CASE WHEN s ~ '^[0-9a-f-]{36}$' THEN s::uuid WHEN s LIKE 'v1.%' THEN split_part(s, '.', 3)::uuid END "
        "FROM current_setting('app.current_tenant', true) s $$", dbname=signed.s.db_name)
    checks = _checks(signed.s, pg_master.dsn())
    assert checks["AC10"].status is Status.FAIL and "unsigned bare id context sees 2 rows" in checks["AC10"].detail
    assert checks["ISO-PROBE"].status is Status.FAIL
    assert "unsigned bare id context: reads 2 rows" in checks["ISO-PROBE"].detail


# ----- ISO-SIGNED on the probe engine: each forged attempt on its own ---------------------------------

def _iso_signed(sg: Signed, dsn: str, login: bool = False) -> tuple[Check, list[str], Context]:
    """ISO-SIGNED in a verify Context of its own, with what it sent on its session (the master's, or
    app_user's own login over TLS); the Context is closed, its connection records kept."""
    ctx = Context(sg.s, master_dsn=dsn)
    try:
        if login:
            conn = ctx.open("app_user", ctx.master.target.with_db(sg.s.db_name).with_login(sg.s.app_role,
                                                                                           sg.app_password))
            how = "its own login"
        else:
            _ = ctx.key_ring  # the master's session and the catalog's round trip, before the probe's
            conn, how = ctx.master_db, "SET ROLE from the master"
        sent = _sent(conn, lambda: signed_context.probe_as(ctx, conn, how))
        return sent[0], sent[1], ctx
    finally:
        ctx.close()


def _sent(conn: psycopg.Connection, fn: Callable[[], Check]) -> tuple[Check, list[str]]:
    """``fn()`` and the messages the client sent meanwhile ("Parse\t..."), from libpq's trace: each Query
    or Sync is one round trip (a pipeline sends one Sync for all its statements)."""
    with tempfile.TemporaryDirectory() as tmp, traced(conn, Path(tmp) / "trace") as lines:
        check = fn()
    return check, [line.split("\t", 2)[2] for line in lines if line.startswith("F\t")]


def _weaken_verifier(pg_super, s: settings_mod.Settings, pattern: str, replacement: str) -> None:
    """The database's own current_tenant_id() with one change, as someone "fixing" it would make it."""
    body = pg_super.execute("SELECT pg_get_functiondef('tenancy.current_tenant_id()'::regprocedure)",
                            dbname=s.db_name)[0][0]
    weak, n = re.subn(pattern, replacement, body, count=1, flags=re.S)
    assert n == 1, body
    pg_super.execute(weak, dbname=s.db_name)


def test_iso_signed_is_one_round_trip_on_either_session_and_carries_the_tls_facts(signed: Signed, pg_master):
    for login in (False, True):
        check, sent, ctx = _iso_signed(signed, pg_master.dsn(), login)
        assert check.status is Status.PASS, (login, check.detail)
        assert ("own login" in check.actual) is login, check.actual
        names = [m.split("\t")[0] for m in sent]
        assert names.count("Sync") + names.count("Query") == 1, names
        # Tokens travel as a bound parameter only, never in statement text.
        token = f"v1.{signed.ring().current.kid}."
        assert any(token in m for m in sent if m.startswith("Bind"))
        assert not any(token in m for m in sent if m.startswith(("Parse", "Query"))), "a token in statement text"
    (app,) = [c for c in ctx.connections if c.label == "app_user"]
    assert app.tls and app.tls_version.startswith("TLSv1."), app  # read on the probe's one round trip


def test_iso_signed_fails_on_exactly_the_forgeries_a_verifier_skipping_the_mac_lets_through(signed: Signed,
                                                                                           pg_master, pg_super):
    # Someone drops the MAC comparison (the key id, the lifetime and the format still checked).
    _weaken_verifier(pg_super, signed.s, r"IF NOT FOUND OR .*?THEN", "IF NOT FOUND THEN")
    check, _, _ = _iso_signed(signed, pg_master.dsn(), login=True)
    assert check.status is Status.FAIL, check.actual
    expected = set()
    for label in ("wrong MAC", "A's token with B's id", "altered copy of a valid token"):
        expected.add(f"{label}: set_tenant succeeded")
        for way in ("set_tenant", "the setting"):
            expected |= {f"{label} via {way}: read 1 of B's rows", f"{label} via {way}: insert of B's row succeeded",
                         f"{label} via {way}: update touched 1 of B's rows",
                         f"{label} via {way}: delete touched 1 of B's rows"}
    problems = check.detail.split("; ")
    assert set(problems) == expected and len(problems) == len(expected), sorted(set(problems) ^ expected)
    assert "A's token reads 2 rows, 0 of another tenant" in check.actual
    assert "no privilege on tenancy.context_keys; select refused" in check.actual


def test_iso_signed_fails_naming_what_did_not_run_when_the_probe_stops_early(signed: Signed, pg_master, pg_super):
    # A verifier that cancels the statement on one forgery: no attempt can catch that, so the probe stops there.
    _weaken_verifier(pg_super, signed.s, r"\bBEGIN\b", "BEGIN IF pg_catalog.right(token, 1) = 'x' THEN "
                     "RAISE EXCEPTION 'verifier gave up' USING ERRCODE = 'query_canceled'; END IF;")
    check, _, _ = _iso_signed(signed, pg_master.dsn())
    assert check.status is Status.FAIL, check.actual
    assert check.detail.split("; ") == [
        "did not run (the probe stopped before them): altered copy of a valid token via set_tenant, "
        "altered copy of a valid token via the setting, the key table",
        "the probe stopped early: verifier gave up"], check.detail
    assert "A's token reads 2 rows, 0 of another tenant" in check.actual
    assert "forged attempts held" in check.actual and "0 rows read, 0 written" not in check.actual
