"""`tenantdb verify --master-dsn` against a real PostgreSQL: the database-side checks, and
broken states each reported as FAIL (or ERROR) with a clear detail."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import psycopg
import pytest

from tenantdb import cli, verify
from tenantdb import settings as settings_mod
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.local.postgres import free_port
from tenantdb.report import Status
from tests.fixtures_pg import TEST_ENV
from tests.test_isolation import RAISES_FOR_EMPTY, RAISES_OTHER, login

AWS_IDS = {"AC1", "AC2", "AC3", "AC4", "AC5", "AC6", "AC9", "PUBLIC-ACCESS", "DELETION-PROTECTION",
           "PERF-INSIGHTS", "MONITORING", "LOG-EXPORTS"}
DB_IDS = {"AC6-LIVE", "AC7", "AC8", "AC10", "TLS"}


def verify_json(capsys, overlay: Path, dsn: str) -> tuple[int, dict[str, dict]]:
    code = cli.main(["--settings", str(overlay), "verify", "--env", TEST_ENV, "--master-dsn", dsn, "--format", "json"])
    out, err = capsys.readouterr()
    data = json.loads(out)
    assert data["stage"] == "verify" and data["environment"] == TEST_ENV
    return code, {c["id"]: c for c in data["checks"]}


@pytest.fixture
def bootstrapped(pg_fresh, pg_master, pg_settings):
    bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
    return pg_fresh


def test_bootstrapped_server_passes_with_aws_skipped(bootstrapped, pg_master, pg_super, pg_overlay, capsys):
    code, checks = verify_json(capsys, pg_overlay, pg_master.dsn())
    assert code == 0
    assert set(checks) >= AWS_IDS | DB_IDS  # later issues add checks of their own
    for id_ in DB_IDS:
        assert checks[id_]["status"] == "PASS", checks[id_]
    assert all(c["status"] in ("PASS", "SKIP") for c in checks.values())
    for id_ in AWS_IDS:
        assert checks[id_]["status"] == "SKIP" and "--master-dsn" in checks[id_]["detail"]
    assert "rolsuper=f rolbypassrls=f" in checks["AC8"]["actual"]
    assert "TLSv1." in checks["TLS"]["actual"] and "plaintext refused" in checks["TLS"]["actual"]
    ac10 = checks["AC10"]["actual"]
    for fact in ("A sees its 2 rows of 3", "no context sees 0 rows", "empty context sees 0 rows",
                 "malformed context refused (not a tenant id, 22P02)", "insert of B's row refused by the policy",
                 "moving A's rows to B refused", "nothing left behind"):
        assert fact in ac10
    assert pg_master.password not in json.dumps(checks)
    # Nothing of the probe is left behind.
    assert pg_super.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenantdb_verify_%'",
                            dbname="qualisys_master") == [(0,)]


def test_createrole_given_to_app_user_fails_ac8(bootstrapped, pg_master, pg_super, pg_overlay, capsys):
    pg_super.execute("ALTER ROLE app_user CREATEROLE")
    code, checks = verify_json(capsys, pg_overlay, pg_master.dsn())
    assert code == 1
    assert checks["AC8"]["status"] == "FAIL" and "rolcreaterole is true" in checks["AC8"]["detail"]
    assert checks["AC7"]["status"] == "PASS" and checks["AC10"]["status"] == "PASS"


def test_bypassrls_given_by_a_superuser_fails_ac8_and_ac10(bootstrapped, pg_master, pg_super, pg_settings):
    pg_super.execute("ALTER ROLE app_user BYPASSRLS")
    rep = verify.run(pg_settings, master_dsn=pg_master.dsn())
    checks = {c.id: c for c in rep.checks}
    assert rep.exit_code == 1
    assert checks["AC8"].status is Status.FAIL and "rolbypassrls is true" in checks["AC8"].detail
    # With BYPASSRLS, forced RLS no longer binds app_user: the live proof sees the other tenant.
    assert checks["AC10"].status is Status.FAIL and "tenant A sees 3 rows, 1 of another tenant" in checks["AC10"].detail


def test_a_wrong_live_parameter_fails_ac6(bootstrapped, pg_cluster, pg_master, pg_super, pg_settings):
    pg_super.execute("ALTER SYSTEM SET work_mem = '4MB'")
    pg_super.execute("SELECT pg_reload_conf()")
    rep = verify.run(pg_settings, master_dsn=pg_master.dsn())
    live = next(c for c in rep.checks if c.id == "AC6-LIVE")
    assert live.status is Status.FAIL and "work_mem=4096 kB (declared 65536 kB)" in live.detail
    assert rep.exit_code == 1


def test_temp_file_limit_stops_one_tenants_runaway_sort_and_ac6_live_reads_it(
        bootstrapped, pg_cluster, pg_master, pg_super, pg_settings, pg_overlay):
    """The parameter group's temp_file_limit, applied by the stand-in as RDS applies it: app_user's own
    sort that needs more temporary space than the limit fails with 53400; AC6-LIVE holds the live value
    to the declared one (a small share of the storage here: 0.01% of 20 GiB = 2097 kB)."""
    small = settings_mod.load(TEST_ENV, pg_overlay, temp_file_limit_percent=0.01)
    assert small.db_parameters["temp_file_limit"] == ("2097", "immediate")
    pg_cluster.apply_parameters({k: v for k, (v, _) in small.db_parameters.items()}, small.instance_memory_bytes)
    try:
        conn = login(pg_cluster, pg_super, small, small.app_role)
        try:
            conn.execute("SET work_mem = '64kB'")  # any role may; temp_file_limit only a superuser
            with pytest.raises(psycopg.errors.ConfigurationLimitExceeded) as err:
                conn.execute("SELECT g FROM generate_series(1, 300000) g ORDER BY g DESC").fetchall()
            assert err.value.sqlstate == "53400" and "temp_file_limit (2097kB)" in str(err.value)
        finally:
            conn.close()
        live = next(c for c in verify.run(small, master_dsn=pg_master.dsn()).checks if c.id == "AC6-LIVE")
        assert live.status is Status.PASS and "temp_file_limit=2097" in live.actual, live
        other = next(c for c in verify.run(pg_settings, master_dsn=pg_master.dsn()).checks if c.id == "AC6-LIVE")
        assert other.status is Status.FAIL and "temp_file_limit=2097 kB (declared 2097152 kB)" in other.detail, other
    finally:
        pg_cluster.apply_parameters({k: v for k, (v, _) in pg_settings.db_parameters.items()},
                                    pg_settings.instance_memory_bytes)


@pytest.mark.parametrize(("body", "fragments"), [
    (RAISES_FOR_EMPTY, ("empty context raised instead of matching nothing", "invalid input syntax for type uuid")),
    (RAISES_OTHER, ("malformed context raised instead of matching nothing: bad tenant context not-a-uuid",)),
], ids=["raises-for-empty", "raises-another-error-for-malformed"])
def test_a_current_tenant_function_that_raises_wrongly_fails_ac10(bootstrapped, pg_master, pg_super, pg_settings,
                                                                  body, fragments):
    """A malformed context may raise 22P02 (the design); an empty one raising, or another error, fails AC10."""
    pg_super.execute(body, dbname="qualisys_master")
    rep = verify.run(pg_settings, master_dsn=pg_master.dsn())
    ac10 = next(c for c in rep.checks if c.id == "AC10")
    assert ac10.status is Status.FAIL
    for fragment in fragments:
        assert fragment in ac10.detail, (fragment, ac10.detail)


def test_nothing_bootstrapped_fails(pg_fresh, pg_master, pg_settings):
    rep = verify.run(pg_settings, master_dsn=pg_master.dsn())
    checks = {c.id: c for c in rep.checks}
    assert rep.exit_code == 1
    assert checks["AC7"].status is Status.PASS  # RDS made the database
    assert checks["AC8"].status is Status.FAIL and "does not exist" in checks["AC8"].detail
    assert checks["AC10"].status in (Status.FAIL, Status.ERROR)
    assert checks["AC10"].status is not Status.PASS


def test_plaintext_accepted_fails_tls(bootstrapped, pg_cluster, pg_master, pg_settings):
    pg_cluster.write_hba(force_ssl=False)
    pg_cluster.reload()
    try:
        rep = verify.run(pg_settings, master_dsn=pg_master.dsn())
    finally:
        pg_cluster.write_hba(force_ssl=True)
        pg_cluster.reload()
    tls = next(c for c in rep.checks if c.id == "TLS")
    assert tls.status is Status.FAIL and "a connection without TLS was accepted" in tls.detail


def test_unreachable_server_is_error_not_pass(pg_master, pg_settings):
    dead = pg_master.dsn().replace(f":{pg_master.port}/", f":{free_port()}/")
    fast = pg_settings.replaced(retry_budget_s=0.5)
    rep = verify.run(fast, master_dsn=dead)
    by = {c.id: c for c in rep.checks}
    assert rep.exit_code == 1
    for id_ in ("AC6-LIVE", "AC7", "AC8", "AC10"):
        assert by[id_].status is Status.ERROR and "refused" in by[id_].detail
    assert by["TLS"].status is Status.FAIL


def test_junit_report_to_a_file(bootstrapped, pg_master, pg_overlay, tmp_path, capsys):
    out = tmp_path / "verify.xml"
    code = cli.main(["--settings", str(pg_overlay), "verify", "--env", TEST_ENV, "--master-dsn", pg_master.dsn(),
                     "--format", "junit", "--output", str(out)])
    capsys.readouterr()
    assert code == 0
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "0" and suite.get("errors") == "0"
    assert int(suite.get("skipped")) >= len(AWS_IDS)


def test_bad_dsn_is_a_usage_error(pg_overlay, capsys):
    code = cli.main(["--settings", str(pg_overlay), "verify", "--env", TEST_ENV, "--master-dsn",
                     "postgresql://u:hunter2-pw@host:99999/db"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and "--master-dsn" in err and "hunter2-pw" not in err


def test_a_batch_is_one_read_only_transaction_and_a_failure_stays_in_its_place(pg_fresh, pg_master, pg_settings):
    """The verifier's batches: rows for each query, a failing one's error in its place (and after it),
    nothing written, and the session left idle with its autocommit setting as it was."""
    import psycopg

    from tenantdb.database.plumbing import connection as db

    with psycopg.connect(pg_master.dsn(pg_settings.db_name)) as conn:
        got = db.read_only_batch(conn, ["SELECT 1 AS one", "SELECT 1/0", "SELECT 3 AS three"])
        assert got[0] == [{"one": 1}]
        assert isinstance(got[1], psycopg.errors.DivisionByZero) and got[2] is got[1]
        assert conn.info.transaction_status is psycopg.pq.TransactionStatus.IDLE and conn.autocommit is False
        refused = db.read_only_batch(conn, ["CREATE TABLE public.verify_wrote (x int)"])[0]
        assert isinstance(refused, psycopg.errors.ReadOnlySqlTransaction)
        written = db.batch(conn, ["CREATE TABLE public.verify_wrote (x int)", "SELECT 1 AS one"], read_only=False)
        assert written == [[], [{"one": 1}]]
        assert conn.execute("SELECT to_regclass('public.verify_wrote')").fetchone() == (None,)  # rolled back


def test_a_connection_whose_tls_was_never_read_fails_tls(bootstrapped, pg_master, pg_settings):
    """TLS fails closed: a connection opened for a batch that never ran counts as TLS not shown."""
    from tenantdb.verify import db_checks
    from tenantdb.verify.context import Context

    ctx = Context(pg_settings, master_dsn=pg_master.dsn())
    try:
        assert ctx.catalog["db_exists"]  # its batch also read the master's pg_stat_ssl row
        assert [(c.label, c.tls) for c in ctx.connections] == [("master", True)]
        assert db_checks.tls(ctx).status is Status.PASS
        ctx.open("orphan", ctx.master.target)
        tls = db_checks.tls(ctx)
        assert tls.status is Status.FAIL and "orphan connection: TLS not shown" in tls.detail
    finally:
        ctx.close()
