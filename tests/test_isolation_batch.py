"""The probes' engine (tenantdb/verify/batch.py, sql/verify/probe/attempts.sql) against a real
PostgreSQL: each kind of attempt judged on the server, every attempt undone, a "require" that
does not hold stops the batch, and results that are missing, repeated or unexpected fail; the runner
spends one round trip, and one more only after a failure."""

from __future__ import annotations

import psycopg
from psycopg import pq, sql
from libpq_trace import round_trips

from tenantdb.database.plumbing import connection as db
from tenantdb.verify import batch
from tenantdb.verify.batch import Step


def _session(pg_master, pg_settings) -> psycopg.Connection:
    target = db.Target(host=pg_master.host, port=pg_master.port, user=pg_master.user, dbname="postgres",
                       password=pg_master.password)
    return db.connect(target, pg_settings)


def test_each_kind_is_judged_on_the_server_and_undone(pg_master, pg_settings):
    s = pg_settings
    conn = _session(pg_master, s)
    try:
        res = batch.Results()
        t = sql.SQL("pg_temp.engine_probe")
        steps = [
            Step("count0", "count", sql.SQL("SELECT count(*) FROM {} WHERE x > 9").format(t)),
            Step("count3", "count", sql.SQL("SELECT count(*) FROM {}").format(t)),
            Step("wipe", "none", sql.SQL("DELETE FROM {}").format(t)),  # touches 3: a problem, and undone
            Step("after_wipe", "check", sql.SQL("SELECT count(*) = 3, count(*)::text FROM {}").format(t)),
            Step("refused", "refused", sql.SQL("TRUNCATE pg_catalog.pg_authid")),  # 42501, superuser or not
            Step("succeeded", "refused", sql.SQL("UPDATE {} SET x = 0").format(t)),
            Step("other", "refused", sql.SQL("SELECT 1/0")),
            Step("raised", "count", sql.SQL("SELECT 1/0")),
            Step("forge", "forge", sql.SQL("SELECT set_config('tenantdb.engine_test', 'kept', true)")),
            Step("kept", "check", sql.SQL("SELECT current_setting('tenantdb.engine_test') = 'kept', ''")),
            Step("stop", "require", sql.SQL("SELECT false, 'wrong role'")),
            Step("never", "count", sql.SQL("SELECT 0")),
        ]
        script = [batch.plain("probe/begin"),
                  (sql.SQL("CREATE TEMPORARY TABLE engine_probe (x int) ON COMMIT DROP"), None),
                  (sql.SQL("INSERT INTO pg_temp.engine_probe VALUES (1), (2), (3)"), None),
                  batch.attempts(conn, res, steps), batch.plain("probe/rollback")]
        batch.run(conn, res, script)
    finally:
        conn.close()
    got = res.got
    assert got["count0"] == (True, "rows:0") and got["count3"] == (False, "rows:3")
    assert got["wipe"] == (False, "rows:3") and got["after_wipe"] == (True, "fact:3")
    assert got["refused"] == (True, "refused") and got["succeeded"] == (False, "succeeded")
    assert got["other"][0] is False and got["other"][1].startswith("other:division by zero")
    assert got["raised"] == (False, "raised:division by zero")
    assert got["forge"] == (True, "set") and got["kept"][0] is True
    assert got["stop"] == (False, "fact:wrong role") and "never" not in got
    assert res.stopped and "the probe stopped: stop" in res.stopped
    lines, extra = batch.judge(res, [("count0", "count", "x:"), ("never", "count", "the last one")])
    assert lines == [("count0", True, "x: reads 0 rows"),
                     ("never", False, "the last one: no result (the probe stopped before it)")]
    assert any(e.startswith("unexpected result 'count3'") for e in extra)
    assert any(e.startswith("the probe stopped early:") for e in extra)


def test_repeated_and_foreign_results_never_pass(pg_master, pg_settings):
    conn = _session(pg_master, pg_settings)
    try:
        res = batch.Results()
        one = Step("one", "count", sql.SQL("SELECT 0"))
        # The same key twice (as a forger who guessed it would send), and a line under another nonce.
        batch.run(conn, res, [batch.attempts(conn, res, [one, one]),
                              (sql.SQL("DO $$ BEGIN RAISE INFO 'f00|two|ok|fact:'; END $$"), None)])
    finally:
        conn.close()
    lines, extra = batch.judge(res, [("one", "count", "one"), ("two", "check", "two")])
    assert lines[0] == ("one", False, "one reads 0 rows")
    assert lines[1] == ("two", False, "two: no result (the probe stopped before it)")
    assert "result 'one' reported more than once" in extra


def test_the_not_an_id_suffix_accepts_22p02_and_nothing_else(pg_master, pg_settings):
    """``kind|22P02``: a refusal with invalid_text_representation is ok (the context is not a tenant id);
    rows read or touched, a write that succeeds and any other error stay problems; without the suffix
    22P02 is a problem like any error."""
    conn = _session(pg_master, pg_settings)
    bad_cast = sql.SQL("SELECT 'not-a-uuid'::uuid IS NULL")
    try:
        res = batch.Results()
        steps = [
            Step("read", "count|22P02", sql.SQL("SELECT count(*) FROM (VALUES ('x'::uuid)) v")),
            Step("read_rows", "count|22P02", sql.SQL("SELECT 2")),
            Step("read_other", "count|22P02", sql.SQL("SELECT 1/0")),
            Step("write", "none|22P02", bad_cast),
            Step("insert", "refused|22P02", bad_cast),
            Step("insert_ok", "refused|22P02", sql.SQL("SELECT 1")),
            Step("insert_42501", "refused|22P02", sql.SQL("TRUNCATE pg_catalog.pg_authid")),
            Step("plain_read", "count", sql.SQL("SELECT count(*) FROM (VALUES ('x'::uuid)) v")),
            Step("plain_insert", "refused", bad_cast),
        ]
        batch.run(conn, res, [batch.attempts(conn, res, steps)])
    finally:
        conn.close()
    got = res.got
    assert got["read"] == (True, "notid") and got["write"] == (True, "notid") and got["insert"] == (True, "notid")
    assert got["read_rows"] == (False, "rows:2") and got["insert_ok"] == (False, "succeeded")
    assert got["read_other"] == (False, "raised:division by zero") and got["insert_42501"] == (True, "refused")
    assert got["plain_read"][0] is False and got["plain_read"][1].startswith("raised:invalid input syntax")
    assert got["plain_insert"][0] is False and got["plain_insert"][1].startswith("other:invalid input syntax")
    lines, _ = batch.judge(res, [("read", "count|22P02", "x context:"), ("insert", "refused", "x context: insert")])
    assert [line for _, _, line in lines] == ["x context: refused (not a tenant id, 22P02)",
                                              "x context: insert refused (not a tenant id, 22P02)"]
    assert batch.in_forged("count", None) == batch.in_forged("count", "") == "count"
    assert batch.in_forged("count", "0B9F4A52-1C3D-4E5F-8A9B-0C1D2E3F4A5B") == "count"  # a forged id: no error allowed
    assert batch.in_forged("none", "not-a-uuid") == batch.in_forged("none", " ") == "none|22P02"


def test_a_deny_is_ok_only_when_refused_and_what_it_sets_when_it_runs_stays(pg_master, pg_settings):
    """``deny|SQLSTATE``: refused with that SQLSTATE (or 42501) is ok and undoes what it did; any other
    error is a problem; when it runs that is a problem, and its effect is in force for what follows
    (so the attempts after a forgery the helper accepted show what it opens)."""
    conn = _session(pg_master, pg_settings)
    setting = "tenantdb.engine_deny"

    def sets_then(value: str, fail: str) -> sql.Composable:
        return sql.SQL("DO $$ BEGIN PERFORM set_config({}, {}, true); {} END $$").format(
            sql.Literal(setting), sql.Literal(value), sql.SQL(fail))

    def now_is(value: str) -> sql.Composable:
        return sql.SQL("SELECT current_setting({}, true) = {}, coalesce(current_setting({}, true), '')").format(
            sql.Literal(setting), sql.Literal(value), sql.Literal(setting))

    try:
        res = batch.Results()
        steps = [
            Step("base", "forge", sql.SQL("SELECT set_config({}, 'base', true)").format(sql.Literal(setting))),
            Step("refused", "deny|22023", sets_then("refused", "RAISE EXCEPTION 'no' USING ERRCODE = '22023';")),
            Step("still_base", "check", now_is("base")),
            Step("privilege", "deny|22023", sql.SQL("TRUNCATE pg_catalog.pg_authid")),
            Step("other", "deny|22023", sets_then("other", "RAISE EXCEPTION 'odd' USING ERRCODE = '22012';")),
            Step("base_again", "check", now_is("base")),
            Step("taken", "deny|22023", sets_then("taken", "")),
            Step("in_force", "check", now_is("taken")),
        ]
        batch.run(conn, res, [batch.plain("probe/begin"), batch.attempts(conn, res, steps),
                              batch.plain("probe/rollback")])
    finally:
        conn.close()
    got = res.got
    assert got["refused"] == (True, "refused") and got["privilege"] == (True, "refused")
    assert got["still_base"][0] and got["base_again"][0], got
    assert got["other"] == (False, "other:odd")
    assert got["taken"] == (False, "succeeded") and got["in_force"][0] is True, got
    lines, _ = batch.judge(res, [("taken", "deny|22023", "forged: set_tenant")])
    assert lines == [("taken", False, "forged: set_tenant succeeded")]


def _report(res: batch.Results, key: str) -> batch.Statement:
    return sql.SQL("DO $$ BEGIN RAISE INFO '%', {}; END $$").format(sql.Literal(f"{res.nonce}|{key}|ok|fact:")), None


def test_one_round_trip_and_after_failure_rides_with_the_rollback(pg_master, pg_settings, tmp_path):
    conn = _session(pg_master, pg_settings)
    try:
        res = batch.Results()
        with round_trips(conn, tmp_path / "trace") as trips:
            batch.run(conn, res, [batch.plain("probe/begin"), _report(res, "one"), batch.plain("probe/rollback")],
                      after_failure=[_report(res, "after")])
        assert trips == [1] and set(res.got) == {"one"} and res.stopped is None
        failing = batch.Results()
        with round_trips(conn, tmp_path / "trace") as trips:
            batch.run(conn, failing, [batch.plain("probe/begin"), _report(failing, "one"),
                                      (sql.SQL("SELECT 1/0"), None), _report(failing, "skipped"),
                                      batch.plain("probe/rollback")], after_failure=[_report(failing, "after")])
        assert trips == [2] and set(failing.got) == {"one", "after"}
        assert failing.stopped == "division by zero"
        assert (conn.autocommit, conn.info.transaction_status) == (False, pq.TransactionStatus.IDLE)
        conn.execute(_report(failing, "unheard")[0])  # the collector is detached
        assert "unheard" not in failing.got
    finally:
        conn.close()


def test_a_connection_that_broke_stops_the_probe_without_a_second_error(pg_master, pg_settings, pg_super):
    conn = _session(pg_master, pg_settings)
    try:
        pg_super.execute("SELECT pg_terminate_backend(%s)", (conn.info.backend_pid,))
        res = batch.run(conn, batch.Results(), [batch.plain("probe/begin"), batch.plain("probe/rollback")],
                        after_failure=[_report(batch.Results(), "after")])
        assert res.stopped and conn.closed
        _, extra = batch.judge(res, [])
        assert any(e.startswith("the probe stopped early:") for e in extra)
    finally:
        conn.close()
