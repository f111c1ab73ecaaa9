"""tenantdb.database.plumbing.connection and the local cluster against a real PostgreSQL: TLS, retry, auth, SCRAM,
and the pipeline in autocommit (its round trips counted in libpq's own trace of the protocol)."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest
from psycopg import pq

from libpq_trace import round_trips
from tenantdb.database.plumbing import connection as db
from tenantdb import settings as settings_mod
from tenantdb.errors import ToolkitError
from tenantdb.local.postgres import Cluster, evaluate_rds_value, free_port
from tenantdb.database.plumbing.scram import scram_sha256_verifier


def _target(master, **kw) -> db.Target:
    return db.Target(host=master.host, port=master.port, user=master.user, dbname="postgres",
                     password=master.password, **kw)


def test_connection_uses_tls_and_plain_tcp_is_rejected(pg_cluster, pg_master, pg_settings):
    with db.connect(_target(pg_master), pg_settings) as conn:
        on, version = db.tls_info(conn)
    assert on and version.startswith("TLSv1.")
    with pytest.raises(psycopg.OperationalError, match="no encryption"):
        psycopg.connect(pg_cluster.tcp_conninfo(pg_master.user, pg_master.password, sslmode="disable"))


def test_verify_full_with_the_ca_bundle(pg_cluster, pg_master):
    s = settings_mod.load("dev", ca_bundle=str(pg_cluster.ca_file))
    with db.connect(_target(pg_master), s) as conn:
        assert db.tls_info(conn)[0]
    # verify-full checks the chain: a bundle that did not sign the server's certificate fails.
    other = settings_mod.load("dev", ca_bundle="/etc/ssl/certs/ca-certificates.crt")
    with pytest.raises(db.ConnectError, match="certificate verify failed"):
        db.connect(_target(pg_master), other, budget_s=0)


def test_sslmode_below_require_is_refused(pg_master, pg_settings):
    with pytest.raises(ToolkitError, match="sslmode=prefer is not allowed"):
        db.connect(_target(pg_master, sslmode="prefer"), pg_settings)


def test_wrong_password_fails_at_once_without_the_password(pg_master, pg_settings):
    started = time.monotonic()
    with pytest.raises(db.AuthError) as info:
        db.connect(_target(pg_master).with_login(pg_master.user, "not-the-password-42"), pg_settings, budget_s=20)
    assert time.monotonic() - started < 3
    msg = str(info.value)
    assert "password authentication failed" in msg and pg_master.user in msg
    assert "not-the-password-42" not in msg and "\n" not in msg


def test_refused_connection_is_retried_within_the_budget(pg_master, pg_settings):
    dead = _target(pg_master).with_address("127.0.0.1", free_port())
    started = time.monotonic()
    with pytest.raises(db.ConnectError, match=r"after \d+ attempts in 2s: .*refused"):
        db.connect(dead, pg_settings, budget_s=2)
    assert 1.5 <= time.monotonic() - started < 6


def test_a_server_that_comes_back_is_reached(pg_cluster, pg_master, pg_settings):
    pg_cluster.stop()
    timer = threading.Timer(1.5, pg_cluster.start)
    timer.start()
    try:
        with db.connect(_target(pg_master), pg_settings, budget_s=20) as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
    finally:
        timer.join()
        pg_cluster.start()


def test_scram_verifier_is_what_the_server_stores_and_accepts(pg_fresh, pg_super, pg_master, pg_settings):
    verifier = scram_sha256_verifier("correct horse battery staple", salt=b"0123456789abcdef")
    assert verifier.startswith("SCRAM-SHA-256$4096:MDEyMzQ1Njc4OWFiY2RlZg==$")
    pg_super.execute(f"CREATE ROLE scram_probe LOGIN PASSWORD '{verifier}'")
    try:
        assert pg_super.execute("SELECT rolpassword FROM pg_authid WHERE rolname='scram_probe'") == [(verifier,)]
        probe = _target(pg_master).with_login("scram_probe", "correct horse battery staple")
        with db.connect(probe, pg_settings) as conn:
            assert conn.execute("SELECT current_user").fetchone() == ("scram_probe",)
    finally:
        pg_super.execute("DROP ROLE scram_probe")


def test_cluster_plays_rds(pg_fresh, pg_super, pg_master, pg_settings):
    role = pg_super.role(pg_master.user)
    assert role and not role["super"] and role["createrole"] and role["createdb"]
    # The master cannot make a BYPASSRLS role, as on RDS (PostgreSQL 15).
    with db.connect(_target(pg_master), pg_settings, autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="bypassrls"):
            conn.execute("CREATE ROLE nope BYPASSRLS")
    # The parameter group's values are live, shared_buffers from db.t3.medium's memory (25%).
    rows = dict(pg_super.execute("SELECT name, setting FROM pg_settings WHERE name IN "
                                 "('max_connections','work_mem','maintenance_work_mem','shared_buffers')"))
    assert rows == {"max_connections": "200", "work_mem": "65536", "maintenance_work_mem": "524288",
                    "shared_buffers": str(4 * 1024**3 // 32768)}
    # pg_stat_statements is preloaded and present in databases created from template1.
    assert pg_super.execute("SELECT extname FROM pg_extension WHERE extname='pg_stat_statements'",
                            dbname=pg_settings.db_name) == [("pg_stat_statements",)]


def test_rds_formulas():
    assert evaluate_rds_value("{DBInstanceClassMemory/32768}", 4 * 1024**3) == "131072"
    assert evaluate_rds_value("{DBInstanceClassMemory*3/4}", 100) == "75"
    assert evaluate_rds_value("65536", None) == "65536"
    with pytest.raises(Exception, match="not supported"):
        evaluate_rds_value("{GREATEST(DBInstanceClassMemory/9531392,5000)}", 1)


def test_cluster_refuses_non_loopback(tmp_path):
    with pytest.raises(Exception, match="loopback"):
        Cluster(tmp_path, 5432, host="0.0.0.0")


# ----- the pipeline in autocommit ---------------------------------------------------------

def _session_state(conn: psycopg.Connection) -> tuple[bool, pq.TransactionStatus]:
    return conn.autocommit, conn.info.transaction_status


def test_a_batch_is_one_round_trip_and_nothing_it_did_outlives_it(pg_master, pg_settings, tmp_path):
    with db.connect(_target(pg_master), pg_settings) as conn:
        with round_trips(conn, tmp_path / "trace") as trips:
            got = db.batch(conn, ["CREATE TEMPORARY TABLE kept (x int)", "INSERT INTO kept VALUES (1), (2)",
                                  ("SELECT count(*) AS n FROM kept WHERE x > %s", (0,))], read_only=False)
        assert got == [[], [], [{"n": 2}]] and trips == [1]
        assert _session_state(conn) == (False, pq.TransactionStatus.IDLE)  # autocommit restored
        assert conn.execute("SELECT to_regclass('pg_temp.kept')").fetchone() == (None,)
        conn.rollback()
        with round_trips(conn, tmp_path / "trace") as trips:
            assert db.read_only_batch(conn, ["SELECT 1 AS one", "SELECT 2 AS two"]) == [[{"one": 1}], [{"two": 2}]]
        assert trips == [1]
        wrote = db.read_only_batch(conn, ["CREATE TEMPORARY TABLE nope (x int)"])[0]
        assert isinstance(wrote, psycopg.errors.ReadOnlySqlTransaction)


def test_a_failure_mid_batch_fills_every_later_place_and_costs_one_more_round_trip(pg_master, pg_settings, tmp_path):
    with db.connect(_target(pg_master), pg_settings, autocommit=True) as conn:
        with round_trips(conn, tmp_path / "trace") as trips:
            got = db.batch(conn, ["SELECT 1 AS one", "SELECT 1/0", "SELECT 2 AS two"], read_only=True)
        assert got[0] == [{"one": 1}] and trips == [2]  # the pipeline, then the ROLLBACK
        assert isinstance(got[1], psycopg.errors.DivisionByZero) and got[2] is got[1]
        assert _session_state(conn) == (True, pq.TransactionStatus.IDLE)
        assert conn.execute("SELECT 3").fetchone() == (3,)  # the session goes on


def test_the_pipeline_rolls_back_with_after_failure_in_one_trip_and_hears_notices_only_then(
        pg_master, pg_settings, tmp_path):
    heard: list[str] = []
    info = "DO $$ BEGIN RAISE INFO '%', {}; END $$"
    with db.connect(_target(pg_master), pg_settings) as conn:
        conn.execute("CREATE TEMPORARY TABLE left_open (x int)")  # a caller's open work: undone first
        queries = ["BEGIN", info.format("'first'"), "CREATE TEMPORARY TABLE made (x int)", "SELECT 1/0",
                   info.format("'skipped'"), "ROLLBACK"]
        with round_trips(conn, tmp_path / "trace") as trips:
            cursors, error = db.pipeline(conn, queries, after_failure=[info.format("'after'")],
                                         notices=lambda d: heard.append(d.message_primary or ""))
        assert isinstance(error, psycopg.errors.DivisionByZero) and len(cursors) == len(queries)
        assert heard == ["first", "after"] and trips == [3]  # the caller's ROLLBACK, the pipeline, the undo
        assert _session_state(conn) == (False, pq.TransactionStatus.IDLE)
        conn.execute(info.format("'unheard'"))  # the handler is gone
        assert heard == ["first", "after"]
        assert conn.execute("SELECT to_regclass('pg_temp.left_open'), to_regclass('pg_temp.made')").fetchone() == \
            (None, None)
        conn.rollback()
        with round_trips(conn, tmp_path / "trace") as trips:
            _, error = db.pipeline(conn, ["BEGIN", "SELECT 1", "ROLLBACK"], after_failure=[info.format("'never'")])
        assert error is None and trips == [1] and heard == ["first", "after"]


def test_a_connection_that_broke_gives_its_error_once(pg_master, pg_settings, pg_super):
    conn = db.connect(_target(pg_master), pg_settings, application_name="tenantdb-broken")
    try:
        pid = conn.info.backend_pid
        pg_super.execute("SELECT pg_terminate_backend(%s)", (pid,))
        got = db.read_only_batch(conn, ["SELECT 1", "SELECT 2"])  # no second error from the clean-up
        assert all(isinstance(r, psycopg.OperationalError) for r in got) and len(got) == 2
        assert conn.closed
    finally:
        conn.close()
