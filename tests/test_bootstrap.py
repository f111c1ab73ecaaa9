"""`tenantdb bootstrap` against a real PostgreSQL, as a master with RDS's powers (no superuser)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tenantdb import cli
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.errors import ToolkitError
from tests.fixtures_pg import TEST_ENV

TENANT_A = "7f1c1e7a-0d1b-4c57-9b1f-2f6a3b5f0a11"


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def bootstrap_json(capsys, overlay: Path, dsn: str) -> dict:
    code, out, err = run_cli(capsys, "--settings", str(overlay), "bootstrap", "--env", TEST_ENV,
                             "--master-dsn", dsn, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def steps(result: dict) -> dict[str, dict]:
    return {s["name"]: s for s in result["steps"]}


def test_fresh_run_then_nothing_changes(pg_fresh, pg_master, pg_super, pg_overlay, pg_settings, capsys):
    first = bootstrap_json(capsys, pg_overlay, pg_master.dsn())
    assert first["environment"] == TEST_ENV and first["changed"] >= 3
    by = steps(first)
    # The foundation's steps, in this order (later steps come after them).
    assert list(by)[:7] == ["database", "roles", "app-password", "database-grants", "extensions",
                            "statistics-access", "tenancy"]
    assert by["no-hooks"]["detail"] == "role settings: none; powerful memberships: none"
    assert by["roles"]["changed"] and by["tenancy"]["changed"] and by["database-grants"]["changed"]
    assert by["app-password"] == {"name": "app-password", "changed": False, "skipped": True,
                                  "detail": by["app-password"]["detail"]}
    assert "--master-dsn" in by["app-password"]["detail"]

    role = pg_super.role(pg_settings.app_role)
    assert role == {"super": False, "bypassrls": False, "createrole": False, "createdb": False,
                    "login": True, "has_password": False}  # --master-dsn: a new app_user gets no password
    db = pg_settings.db_name
    grants = pg_super.execute(
        "SELECT has_database_privilege(%s, %s, 'CREATE'), has_database_privilege(%s, %s, 'CONNECT'), "
        "has_database_privilege(%s, %s, 'TEMPORARY')", (pg_settings.app_role, db) * 3)
    assert grants == [(True, True, True)]
    assert pg_super.execute("SELECT has_schema_privilege('public', 'public', 'CREATE')", dbname=db) == [(False,)]

    second = bootstrap_json(capsys, pg_overlay, pg_master.dsn())
    assert second["changed"] == 0
    assert not any(s["changed"] for s in second["steps"])
    code, out, _ = run_cli(capsys, "--settings", str(pg_overlay), "bootstrap", "--env", TEST_ENV,
                           "--master-dsn", pg_master.dsn())
    assert code == 0 and "nothing changed" in out and pg_master.password not in out


def test_current_tenant_id_fails_closed(pg_fresh, pg_master, pg_overlay, capsys):
    """Unset or empty: NULL (no row matches). Malformed: the cast raises 22P02, so the statement fails
    (closed, and loudly). A uuid, in any spelling PostgreSQL reads as one, is that tenant."""
    bootstrap_json(capsys, pg_overlay, pg_master.dsn())
    with psycopg.connect(pg_master.dsn("qualisys_master"), autocommit=True) as conn:
        conn.execute("SET ROLE app_user")
        current = lambda: conn.execute("SELECT tenancy.current_tenant_id()").fetchone()[0]  # noqa: E731 - a one-line local helper reads better as a lambda
        put = lambda value: conn.execute("SELECT set_config('app.current_tenant', %s, false)", (value,))  # noqa: E731
        assert current() is None  # never set in this session
        put("")
        assert current() is None  # empty: what PostgreSQL returns once the setting has existed
        for value in ("not-a-uuid", "'; DROP TABLE x; --", TENANT_A + " ", " ", TENANT_A[:-1] + "g"):
            put(value)
            with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="invalid input syntax for type uuid"):
                current()
        for value in (TENANT_A.upper(), "{" + TENANT_A + "}"):
            put(value)
            assert str(current()) == TENANT_A, value
        # A plain, inlinable STABLE SQL function; not SECURITY DEFINER; PUBLIC cannot run it.
        fn = conn.execute("SELECT provolatile, proparallel, prosecdef, proconfig, "
                          "(SELECT lanname FROM pg_language WHERE oid = prolang), "
                          "has_function_privilege('public', p.oid, 'EXECUTE') FROM pg_proc p "
                          "WHERE oid = 'tenancy.current_tenant_id'::regproc").fetchone()
        assert fn == ("s", "s", False, None, "sql", False)
        # Inlined: the plan holds the body's expression, with no call of the function (and no regex).
        plan = "\n".join(r[0] for r in conn.execute("EXPLAIN (VERBOSE, COSTS OFF) SELECT tenancy.current_tenant_id()"))
        assert "current_setting" in plan and "current_tenant_id" not in plan and "~" not in plan, plan


def test_040_defines_the_plain_context_only_in_plain_mode(pg_fresh, pg_master, pg_super, pg_settings, capsys):
    """With tenant_context = signed, 040 leaves set_tenant/current_tenant_id to 045; a rerun in either
    mode changes nothing."""
    from tenantdb import settings as settings_mod
    from tenantdb.database.plumbing import sqlfiles

    bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
    step = next(p for p in sqlfiles.files() if p.name == "040_tenancy.sql")
    body = "SELECT current_tenant_id FROM tenancy.current_tenant_id()"
    signed = settings_mod.Settings(**{**pg_settings.model_dump(), "tenant_context": "signed"})
    other = ("CREATE OR REPLACE FUNCTION tenancy.current_tenant_id() RETURNS uuid LANGUAGE sql STABLE "
             "AS 'SELECT NULL::uuid'")
    pg_super.execute(other, dbname=pg_settings.db_name)
    fingerprint = f"SELECT md5(pg_get_functiondef('tenancy.current_tenant_id'::regproc)), ({body}) IS NULL"
    before = pg_super.execute(fingerprint, dbname=pg_settings.db_name)
    with psycopg.connect(pg_master.dsn(pg_settings.db_name)) as conn:
        conn.execute(sqlfiles.load(step, bootstrap.placeholders(signed)))
    assert pg_super.execute(fingerprint, dbname=pg_settings.db_name) == before  # signed: left alone
    with psycopg.connect(pg_master.dsn(pg_settings.db_name)) as conn:
        conn.execute(sqlfiles.load(step, bootstrap.placeholders(pg_settings)))
    assert pg_super.execute(fingerprint, dbname=pg_settings.db_name) != before  # plain: the plain body again


def test_set_tenant_sets_the_context_for_the_transaction_and_refuses_malformed_ids(
        pg_fresh, pg_master, pg_overlay, capsys):
    bootstrap_json(capsys, pg_overlay, pg_master.dsn())
    with psycopg.connect(pg_master.dsn("qualisys_master")) as conn:
        conn.execute("SET ROLE app_user")
        assert str(conn.execute("SELECT tenancy.set_tenant(%s)", (TENANT_A.upper(),)).fetchone()[0]) == TENANT_A
        assert str(conn.execute("SELECT tenancy.current_tenant_id()").fetchone()[0]) == TENANT_A
        conn.commit()
        assert conn.execute("SELECT tenancy.current_tenant_id()").fetchone() == (None,)  # transaction-local
        for bad in ("", "not-a-uuid", TENANT_A + " ", "{" + TENANT_A + "}", None):
            with pytest.raises(psycopg.errors.InvalidParameterValue, match="not a tenant id"):
                conn.execute("SELECT tenancy.set_tenant(%s)", (bad,))
            conn.rollback()
        fn = conn.execute("SELECT prosecdef, proconfig, has_function_privilege('public', p.oid, 'EXECUTE') "
                          "FROM pg_proc p WHERE oid = 'tenancy.set_tenant'::regproc").fetchone()
        assert fn == (False, ["search_path=pg_catalog, pg_temp"], False)


def test_drifted_app_user_is_repaired(pg_fresh, pg_master, pg_super, pg_overlay, capsys):
    bootstrap_json(capsys, pg_overlay, pg_master.dsn())
    pg_super.execute("ALTER ROLE app_user CREATEROLE CREATEDB NOLOGIN")
    pg_super.execute("REVOKE CREATE ON DATABASE qualisys_master FROM app_user")
    result = steps(bootstrap_json(capsys, pg_overlay, pg_master.dsn()))
    assert result["roles"]["changed"]
    assert "createrole: true -> false" in result["roles"]["detail"]
    assert "createdb: true -> false" in result["roles"]["detail"]
    assert "login: false -> true" in result["roles"]["detail"]
    assert result["database-grants"]["changed"]
    assert not result["tenancy"]["changed"] and not result["extensions"]["changed"]
    role = pg_super.role("app_user")
    assert role and not role["createrole"] and not role["createdb"] and role["login"]


def test_a_no_op_rerun_is_not_fooled_by_changes_behind_its_back(pg_fresh, pg_master, pg_super, pg_overlay,
                                                                capsys):
    """The recorded fingerprints skip a rerun only while the catalog is as the last run left it: a
    function body replaced (tenancy step), a grant revoked and a role attribute changed (tenancy-roles
    step) make the steps run again, repair it and say so."""
    bootstrap_json(capsys, pg_overlay, pg_master.dsn())
    assert bootstrap_json(capsys, pg_overlay, pg_master.dsn())["changed"] == 0  # the record matches: skipped
    db = "qualisys_master"
    definition = ("SELECT md5(pg_get_functiondef('tenancy.current_tenant_id()'::regprocedure)), "
                  "has_function_privilege('app_reporting', 'tenancy.bound_tenant(uuid, name, bytea)', 'EXECUTE'), "
                  "(SELECT rolcreatedb FROM pg_roles WHERE rolname = 'app_migrator')")
    declared = pg_super.execute(definition, dbname=db)
    assert declared[0][1:] == (True, False)
    pg_super.execute(f"CREATE OR REPLACE FUNCTION tenancy.current_tenant_id() RETURNS uuid LANGUAGE sql STABLE "
                     f"AS $$ SELECT '{TENANT_A}'::uuid $$", dbname=db)  # every session in tenant A
    pg_super.execute("REVOKE EXECUTE ON FUNCTION tenancy.bound_tenant(uuid, name, bytea) FROM app_reporting", dbname=db)
    pg_super.execute("ALTER ROLE app_migrator CREATEDB")
    drifted = pg_super.execute(definition, dbname=db)
    assert drifted[0][0] != declared[0][0] and drifted[0][1:] == (False, True)

    result = bootstrap_json(capsys, pg_overlay, pg_master.dsn())
    by = steps(result)
    assert by["tenancy"]["changed"] and "function definition updated" in by["tenancy"]["detail"], by["tenancy"]
    assert by["tenancy-roles"]["changed"] and "converged" in by["tenancy-roles"]["detail"], by["tenancy-roles"]
    assert {n for n, st in by.items() if st["changed"]} == {"tenancy", "tenancy-roles"}, result
    assert pg_super.execute(definition, dbname=db) == declared  # repaired, to the byte
    assert pg_super.execute("SELECT tenancy.current_tenant_id()", dbname=db) == [(None,)]  # fails closed again
    assert bootstrap_json(capsys, pg_overlay, pg_master.dsn())["changed"] == 0


def test_bypassrls_given_by_a_superuser_stops_with_the_fix(pg_fresh, pg_master, pg_super, pg_overlay, capsys):
    bootstrap_json(capsys, pg_overlay, pg_master.dsn())
    pg_super.execute("ALTER ROLE app_user BYPASSRLS CREATEROLE")
    code, out, err = run_cli(capsys, "--settings", str(pg_overlay), "bootstrap", "--env", TEST_ENV,
                             "--master-dsn", pg_master.dsn())
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "app_user has BYPASSRLS" in err and 'a superuser must run: ALTER ROLE "app_user" NOBYPASSRLS' in err
    assert pg_master.password not in err
    role = pg_super.role("app_user")
    assert role and role["bypassrls"] and role["createrole"]  # the step's transaction changed nothing


def test_a_superuser_master_removes_bypassrls_itself(pg_fresh, pg_cluster, pg_master, pg_super, pg_settings):
    """With --master-dsn to a self-managed server whose master is a superuser, the bootstrap can fix it."""
    bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
    pg_super.execute("ALTER ROLE app_user BYPASSRLS")
    pg_super.execute("CREATE ROLE super_master LOGIN SUPERUSER PASSWORD 'super-master-pw-123'")
    try:
        dsn = pg_master.dsn().replace(f"{pg_master.user}:", "super_master:").replace(
            pg_master.password, "super-master-pw-123")
        result = bootstrap.run(pg_settings, master_dsn=dsn)
        roles = next(s for s in result.steps if s.name == "roles")
        assert roles.changed and "bypassrls: true -> false" in roles.detail
        assert pg_super.role("app_user")["bypassrls"] is False
    finally:
        pg_super.execute("DROP OWNED BY super_master")
        pg_super.execute("DROP ROLE super_master")


def test_app_create_on_database_off_withdraws_create(pg_fresh, pg_master, pg_super, pg_settings):
    bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
    strict = pg_settings.replaced(app_create_on_database=False)
    result = bootstrap.run(strict, master_dsn=pg_master.dsn())
    grants = next(s for s in result.steps if s.name == "database-grants")
    assert grants.changed and "CONNECT, CREATE, TEMPORARY -> CONNECT, TEMPORARY" in grants.detail
    assert pg_super.execute("SELECT has_database_privilege('app_user', 'qualisys_master', 'CREATE')") == [(False,)]


def test_an_unchanged_step_reports_what_it_read(pg_fresh, pg_master, pg_super, pg_settings):
    """No fixed claim: who may read pg_stat_statements and what PUBLIC holds on schema public come from
    the catalog, and an extension dropped behind the bootstrap's back (and no longer wanted) is said to be
    missing, not readable."""
    bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
    by = {x.name: x for x in bootstrap.run(pg_settings, master_dsn=pg_master.dsn()).steps}
    assert not by["statistics-access"].changed
    assert by["statistics-access"].detail == (
        f"pg_stat_statements readable by {', '.join(sorted(['pg_read_all_stats', pg_master.user]))}")
    assert by["database-grants"].detail.endswith("; PUBLIC: USAGE on schema public"), by["database-grants"]
    none_wanted = pg_settings.replaced(extensions=())
    pg_super.execute("DROP EXTENSION pg_stat_statements", dbname=pg_settings.db_name)
    by = {x.name: x for x in bootstrap.run(none_wanted, master_dsn=pg_master.dsn()).steps}
    assert not by["statistics-access"].changed and by["statistics-access"].detail == "pg_stat_statements not installed"
    assert by["extensions"].detail == "no extensions wanted"


def hold_the_lock(pg_master, s):
    """The bootstrap's lock held as a bootstrap holds it (its own session), until the context ends."""
    from tenantdb.database.bootstrap import lock, roles
    from tenantdb.database.plumbing.master import resolve_master

    target = resolve_master(s, master_dsn=pg_master.dsn()).target.with_db(s.db_name)
    return lock.serialized(target, s, roles.model(s).names)


def block_the_tenancy_step(pg_cluster, pg_master, s) -> psycopg.Connection:
    """Someone else's open transaction creating tenancy.current_tenant_id() makes the bootstrap's batch wait
    inside the tenancy step, after the earlier steps wrote in its transaction. The lock's table (and with
    it the toolkit's schema) is made first, as the first bootstrap makes it."""
    with hold_the_lock(pg_master, s):
        pass
    blocker = pg_cluster.superuser_connect(s.db_name)
    blocker.autocommit = False
    blocker.execute("CREATE FUNCTION tenancy.current_tenant_id() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'")
    return blocker


def test_the_lock_serializes_bootstraps(pg_fresh, pg_master, pg_super, pg_settings, capsys):
    """A bootstrap waits while another holds the lock, names it, and does its work only after."""
    outcome: dict[str, object] = {}
    with hold_the_lock(pg_master, pg_settings):
        worker = threading.Thread(target=lambda: outcome.update(r=bootstrap.run(pg_settings,
                                                                                master_dsn=pg_master.dsn())))
        worker.start()
        time.sleep(2.0)
        assert worker.is_alive() and pg_super.role("app_user") is None  # waiting, nothing done
        waiting = pg_super.execute("SELECT count(*) FROM pg_locks WHERE relation = 'tenancy.bootstrap_lock'::regclass "
                                   "AND NOT granted", dbname=pg_settings.db_name)
        assert waiting == [(1,)]
    worker.join(30)
    assert outcome["r"].changed >= 3 and pg_super.role("app_user") is not None
    err = capsys.readouterr().err
    assert "another bootstrap is running on qualisys_master (it holds tenancy.bootstrap_lock)" in err
    assert f"waiting for a lock held by role {pg_master.user} (pid " in err
    assert "ExclusiveLock on tenancy.bootstrap_lock, tenantdb-bootstrap" in err


def test_two_bootstraps_at_once_both_end_correct(pg_fresh, pg_master, pg_super, pg_settings):
    results: list[bootstrap.Result] = []
    errors: list[BaseException] = []

    def one() -> None:
        try:
            results.append(bootstrap.run(pg_settings, master_dsn=pg_master.dsn()))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and len(results) == 2
    assert sorted(r.changed for r in results)[0] == 0  # the second found the first's work done
    assert sorted(r.changed for r in results)[1] >= 3
    assert bootstrap.run(pg_settings, master_dsn=pg_master.dsn()).changed == 0
    role = pg_super.role("app_user")
    assert role and not role["createrole"] and role["login"]


def test_server_restarted_mid_run_then_rerun_converges(pg_fresh, pg_cluster, pg_master, pg_super, pg_settings):
    blocker = block_the_tenancy_step(pg_cluster, pg_master, pg_settings)
    outcome: dict[str, BaseException] = {}

    def run() -> None:
        try:
            bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
        except BaseException as exc:  # noqa: BLE001 - the thread hands any failure to the test
            outcome["error"] = exc

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 20
    while not pg_super.execute("SELECT 1 FROM pg_stat_activity WHERE application_name = 'tenantdb-bootstrap' "
                               "AND wait_event_type = 'Lock' AND datname = 'qualisys_master'"):
        assert time.monotonic() < deadline, "the bootstrap never reached the tenancy step"
        time.sleep(0.1)
    assert pg_super.role("app_user") is None  # one transaction: the earlier steps are not committed yet
    pg_cluster.restart("fast")
    worker.join(30)
    blocker.close()
    err = outcome.get("error")
    assert isinstance(err, ToolkitError) and "connection lost" in str(err)
    assert "nothing was changed" in str(err) and "run the bootstrap again" in str(err)
    assert pg_super.role("app_user") is None  # atomic: the steps before the interrupted one were undone too

    rerun = bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
    changed = {s.name for s in rerun.steps if s.changed}
    assert {"roles", "database-grants", "tenancy"} <= changed  # nothing of the interrupted run survived
    assert "database" not in changed  # CREATE DATABASE runs (and commits) before the transaction
    assert bootstrap.run(pg_settings, master_dsn=pg_master.dsn()).changed == 0


@pytest.mark.parametrize("dsn", [
    "postgresql://qualisys_admin:s3cret-pw@127.0.0.1:notaport/postgres",
    "host=127.0.0.1 password=s3cret-pw 'unterminated",
    "postgresql://qualisys_admin:s3cret-pw@127.0.0.1:5432/postgres?sslmode=disable",
    "postgresql://:s3cret-pw@127.0.0.1:5432/postgres?user=",
    "postgresql:///postgres?password=s3cret-pw&user=x",
])
def test_bad_dsn_is_a_usage_error(dsn, pg_overlay, capsys):
    code, out, err = run_cli(capsys, "--settings", str(pg_overlay), "bootstrap", "--env", TEST_ENV,
                             "--master-dsn", dsn)
    assert code == 2 and out == ""
    assert err.startswith("tenantdb: error: --master-dsn") and err.count("\n") == 1
    assert "s3cret-pw" not in err


def test_bad_endpoint_is_a_usage_error(pg_overlay, capsys):
    code, _, err = run_cli(capsys, "--settings", str(pg_overlay), "bootstrap", "--env", TEST_ENV,
                           "--endpoint", "db.example:port")
    assert code == 2 and "--endpoint='db.example:port': expected HOST:PORT" in err


def test_wrong_password_fails_fast_with_a_clear_message(pg_fresh, pg_master, pg_overlay):
    """Through the installed console script, as an operator runs it."""
    exe = Path(sys.executable).with_name("tenantdb")
    started = time.monotonic()
    done = subprocess.run([str(exe), "--settings", str(pg_overlay), "bootstrap", "--env", TEST_ENV],
                          env={**os.environ, "TENANTDB_MASTER_DSN": pg_master.dsn(password="Wrong-Password-99")},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert time.monotonic() - started < 10
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
    assert f"cannot log in as {pg_master.user}@" in done.stderr
    assert "password authentication failed" in done.stderr
    assert "Wrong-Password-99" not in done.stderr and pg_master.password not in done.stderr
