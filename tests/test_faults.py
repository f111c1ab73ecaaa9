"""Bad input and faults (issue 6), each through the real CLI in a subprocess, as an operator
meets them: one line on stderr, exit 2 for bad input and 1 at run time, no traceback unless
--debug, nothing half-done, a rerun converges.

Cases already covered elsewhere are not repeated here (docs/faults.md maps every case of
the issue to its test). This file adds:

- settings: malformed TOML, an unknown field, a missing file, a value that breaks an AC at
  load (backup_retention_days = 3), and --debug showing the traceback the others hide;
- an unreachable database, refused and silent (accepts TCP, never answers): bounded retries
  within retry_budget_s, then one line;
- the AWS endpoint down: bootstrap fails in one line, verify reports ERROR and no PASS;
- the bootstrap killed with SIGTERM halfway: every step is as before or as after, never
  half, and a rerun converges with verify passing;
- the connection secret deleted (pending deletion), its JSON malformed, the master secret
  without its password (on the session's local environment, each put back exactly);
- two `local up` at once on the session's environment: serialized, both end correct.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.bootstrap import roles
from tenantdb.database.plumbing import sqlfiles
from tenantdb import settings as settings_mod
from tenantdb.local.postgres import free_port
from tests.fixtures_local import LocalCli, Run
from tests.fixtures_pg import TEST_ENV
from tests.test_bootstrap import block_the_tenancy_step

CLI = [sys.executable, "-m", "tenantdb.cli"]


def tenantdb(*args: str, timeout: float = 300, env: dict[str, str] | None = None) -> Run:
    started = time.monotonic()
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, check=False,
                          env={**os.environ, **env} if env else None)
    return Run(tuple(args), proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


def assert_one_line_error(run: Run, code: int, *fragments: str) -> str:
    """Exit ``code``, nothing on stdout, exactly one line on stderr holding every fragment, no traceback."""
    assert run.returncode == code, (run.returncode, run.stdout[-2000:], run.stderr[-2000:])
    assert run.stdout == ""
    lines = run.stderr.splitlines()
    assert len(lines) == 1, run.stderr
    assert "Traceback" not in run.stderr
    line = lines[0]
    assert line.startswith("tenantdb: error: "), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)
    return line


# ----- settings: exit 2, one line, before anything runs ---------------------------------

@pytest.mark.parametrize("text, fragments", [
    ("[dev]\nmulti_az = \n", ("not valid TOML",)),
    ("[dev]\nmulti_azz = true\n", ("dev: multi_azz: unknown setting",)),
    ("[dev]\nbackup_retention_days = 3\n", ("dev: backup_retention_days=3",)),
    ("[qa]\nmulti_az = true\n", ("unknown environment [qa]",)),
])
def test_malformed_settings_exit_2_in_one_line(tmp_path: Path, text: str, fragments: tuple[str, ...]) -> None:
    overlay = tmp_path / "settings.toml"
    overlay.write_text(text)
    # verify would connect to AWS and the database: the settings must stop it first, fast.
    run = tenantdb("--settings", str(overlay), "verify", "--env", "dev")
    assert_one_line_error(run, 2, *fragments)
    assert run.seconds < 15


def test_a_missing_settings_file_and_an_unknown_environment_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert_one_line_error(tenantdb("--settings", str(missing), "bootstrap", "--env", "dev"), 2,
                          f"settings file {missing}: not found")
    assert_one_line_error(tenantdb("bootstrap", "--env", "qa"), 2, "environment 'qa': unknown",
                          "local, dev, staging, prod")
    assert_one_line_error(tenantdb("verify"), 2, "--env is required (or set TENANTDB_ENV)")


def test_debug_shows_the_traceback_the_one_line_hides(tmp_path: Path) -> None:
    overlay = tmp_path / "settings.toml"
    overlay.write_text("[dev]\nbackup_retention_days = 3\n")
    run = tenantdb("--settings", str(overlay), "verify", "--env", "dev", "--debug")
    assert run.returncode != 0 and "Traceback" in run.stderr and "SettingsError" in run.stderr


# ----- an unreachable database: bounded retries, then one line ------------------------

@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts TCP connections and never says a word (a hung server, a black-holing proxy)."""
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(64)
        yield server.getsockname()[1]


@pytest.mark.parametrize("kind", ["refused", "silent"])
def test_an_unreachable_database_is_retried_within_the_budget_then_one_line(
        kind: str, request: pytest.FixtureRequest, pg_master, pg_settings, pg_overlay) -> None:
    port = free_port() if kind == "refused" else request.getfixturevalue("silent_server")
    dsn = pg_master.dsn().replace(f":{pg_master.port}/", f":{port}/")
    # The DSN in the environment, as the runbook advises (in argv it would add a warning line).
    run = tenantdb("--settings", str(pg_overlay), "bootstrap", "--env", TEST_ENV, env={"TENANTDB_MASTER_DSN": dsn})
    budget, attempt = pg_settings.retry_budget_s, pg_settings.connect_timeout_s
    reason = "refused" if kind == "refused" else "timeout expired"
    line = assert_one_line_error(run, 1, f"cannot connect to {pg_master.user}@127.0.0.1:{port}/postgres after",
                                 f"in {budget:.0f}s", reason)
    assert pg_master.password not in line
    # The bound: the budget, plus at most one attempt's connect_timeout begun just before it ran out,
    # plus the interpreter's start.
    assert budget <= run.seconds < budget + attempt + 3, run.seconds
    print(f"\nunreachable ({kind}): exit 1 after {run.seconds:.1f} s (budget {budget:.0f} s, "
          f"connect_timeout {attempt} s): {line}", file=sys.stderr)


# ----- the AWS endpoint down ------------------------------------------------------------

@pytest.fixture
def aws_down(tmp_path: Path) -> Path:
    overlay = tmp_path / "aws-down.toml"
    overlay.write_text(f'[dev]\naws_endpoint_url = "http://127.0.0.1:{free_port()}"\nretry_budget_s = 2.0\n')
    return overlay


def test_aws_endpoint_down_bootstrap_one_line_verify_error_never_pass(aws_down: Path) -> None:
    boot = tenantdb("--settings", str(aws_down), "bootstrap", "--env", "dev")
    assert_one_line_error(boot, 1, "rds:DescribeDBInstances qualisys-db-dev", "Could not connect")
    assert boot.seconds < 30

    verify = tenantdb("--settings", str(aws_down), "verify", "--env", "dev", "--format", "json")
    assert verify.returncode == 1, verify.stderr
    checks = {c["id"]: c for c in json.loads(verify.stdout)["checks"]}
    statuses = {c["status"] for c in checks.values()}
    assert "PASS" not in statuses and "SKIP" not in statuses
    for id_ in ("AC1", "AC3", "AC6", "AC7", "AC8", "AC9", "AC10"):
        assert checks[id_]["status"] == "ERROR" and "Could not connect" in checks[id_]["detail"], checks[id_]
    assert checks["TLS"]["status"] == "FAIL"  # no connection was made, so TLS was never shown
    assert verify.seconds < 60


# ----- the bootstrap killed with SIGTERM halfway ------------------------------------------

def step_states(master, s: settings_mod.Settings) -> dict[str, object]:
    """What each step with its own state query establishes, the role model's roles and the
    bootstrap's record, read from the catalog now."""
    values = bootstrap.placeholders(s)
    states: dict[str, object] = {}
    with psycopg.connect(master.dsn(s.db_name), autocommit=True) as conn:
        for path in sqlfiles.files():
            state = sqlfiles.state_file(path)
            if state.name != sqlfiles.GENERIC_STATE:
                states[sqlfiles.step_name(path)] = bootstrap._fingerprint(conn, path, values)
        states["tenancy-roles"] = conn.execute(roles.model(s).fingerprint_sql()).fetchall()
        states["record"] = conn.execute("SELECT pg_catalog.to_regclass(%s) IS NOT NULL",
                                        (f"{s.tenancy_schema}.bootstrap_state",)).fetchone()[0]
    return states


def bootstrap_backends(pg_super) -> int:
    return pg_super.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tenantdb-bootstrap'")[0][0]


def test_bootstrap_killed_with_sigterm_halfway_commits_nothing_then_rerun_converges(
        pg_fresh, pg_cluster, pg_master, pg_super, pg_settings, pg_overlay) -> None:
    """The bootstrap is one transaction: killed in the middle (the roles and grants already done in
    its transaction, the tenancy step waiting), nothing of it is committed; the rerun does it all."""
    s = pg_settings
    # A superuser's open transaction creating tenancy.current_tenant_id() makes the bootstrap wait inside
    # the tenancy step (the bootstrap's lock table, and the schema with it, made first, as a first run does).
    blocker = block_the_tenancy_step(pg_cluster, pg_master, s)
    before = step_states(pg_master, s)
    args = ("--settings", str(pg_overlay), "bootstrap", "--env", TEST_ENV, "--master-dsn", pg_master.dsn())
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        waiting: list[tuple] = []
        while not waiting:
            waiting = pg_super.execute(
                "SELECT pid, backend_xid IS NOT NULL FROM pg_stat_activity WHERE application_name = "
                "'tenantdb-bootstrap' AND wait_event_type = 'Lock' AND datname = %s", (s.db_name,))
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the bootstrap never reached the tenancy step"
            time.sleep(0.1)
        # Halfway: its transaction has already written (the roles step ran in it), and waits.
        assert waiting[0][1], "the bootstrap waited before changing anything: the kill would prove nothing"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGTERM  # killed outright, as a Kubernetes Job's pod is
        # Its backends notice the client is gone and end while the blocker still holds the lock:
        # the waiting transaction is rolled back, never resumed and committed for nobody.
        deadline = time.monotonic() + 30
        while bootstrap_backends(pg_super):
            assert time.monotonic() < deadline, "the killed bootstrap's sessions never ended"
            time.sleep(0.1)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        blocker.rollback()
        blocker.close()

    halfway = step_states(pg_master, s)
    assert halfway == before  # all or nothing: here nothing (no role, no grant, no record)
    rerun = tenantdb(*args, "--format", "json")
    assert rerun.returncode == 0, rerun.stderr
    after = step_states(pg_master, s)
    moved = {step for step in before if before[step] != after[step]}
    assert {"roles", "database-grants", "tenancy", "tenancy-roles", "record"} <= moved, moved
    changed = {st["name"] for st in json.loads(rerun.stdout)["steps"] if st["changed"]}
    # It reports what it did: the steps above changed, and none whose state it left as it was.
    assert {"roles", "database-grants", "tenancy", "tenancy-roles"} <= changed, changed
    assert changed & set(before) <= moved and "database" not in changed, (moved, changed)

    again = tenantdb(*args, "--format", "json")
    assert again.returncode == 0 and json.loads(again.stdout)["changed"] == 0
    verify = tenantdb("--settings", str(pg_overlay), "verify", "--env", TEST_ENV, "--master-dsn", pg_master.dsn(),
                      "--format", "json")
    assert verify.returncode == 0, verify.stdout[-3000:]
    assert bootstrap_backends(pg_super) == 0  # and so no session holds the bootstrap's lock
    assert pg_super.execute("SELECT count(*) FROM pg_locks WHERE relation = 'tenancy.bootstrap_lock'::regclass",
                            dbname=s.db_name) == [(0,)]


# ----- secrets gone wrong, on the session's local environment --------------------------

@pytest.fixture(scope="module")
def local_aws(local_cold_up: Run, local_settings: settings_mod.Settings):
    from tenantdb.aws import Aws

    assert local_cold_up.returncode == 0, local_cold_up.stderr[-3000:]
    return Aws(local_settings)


def raw_secret(aws, secret_id: str) -> str:
    return aws.secrets.get_secret_value(SecretId=secret_id)["SecretString"]


def verify_checks(local_cli: LocalCli) -> tuple[Run, dict[str, dict]]:
    run = local_cli("verify", "--env", "local", "--format", "json")
    return run, {c["id"]: c for c in json.loads(run.stdout)["checks"]}


@pytest.mark.slow  # the session's local environment (tests/fixtures_local.py)
def test_connection_secret_deleted(local_cli: LocalCli, local_aws, local_settings) -> None:
    """Someone deleted the connection secret (pending deletion, as DeleteSecret leaves it)."""
    name = local_settings.connection_secret_name
    local_aws.secrets.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    try:
        boot = local_cli("bootstrap", "--env", "local")
        line = assert_one_line_error(boot, 1, name, "scheduled for deletion", "restore-secret")
        run, checks = verify_checks(local_cli)
    finally:
        local_aws.secrets.restore_secret(SecretId=name)
    assert run.returncode == 1
    assert checks["AC9"]["status"] in ("FAIL", "ERROR") and "restore-secret" in checks["AC9"]["detail"]
    print(f"\nconnection secret deleted: bootstrap: {line}\n  verify AC9 {checks['AC9']['status']}: "
          f"{checks['AC9']['detail']}", file=sys.stderr)
    assert local_cli("verify", "--env", "local").returncode == 0  # restored: back to passing


@pytest.mark.slow  # the session's local environment (tests/fixtures_local.py)
def test_connection_secret_malformed(local_cli: LocalCli, local_aws, local_settings) -> None:
    name = local_settings.connection_secret_name
    good = raw_secret(local_aws, name)
    local_aws.secrets.put_secret_value(SecretId=name, SecretString='{"username": "app_user", "password": ')
    try:
        boot = local_cli("bootstrap", "--env", "local")
        line = assert_one_line_error(boot, 1, name, "not JSON", "rerun the bootstrap")
        run, checks = verify_checks(local_cli)
    finally:
        # Twice: the first put would leave the malformed value as AWSPREVIOUS, which the next
        # rotation's setSecret reads (AWS's function fails on it too; docs/faults.md).
        for _ in range(2):
            local_aws.secrets.put_secret_value(SecretId=name, SecretString=good)
    assert run.returncode == 1
    assert checks["AC9"]["status"] in ("FAIL", "ERROR") and "not JSON" in checks["AC9"]["detail"]
    print(f"\nconnection secret malformed: bootstrap: {line}\n  verify AC9 {checks['AC9']['status']}: "
          f"{checks['AC9']['detail']}", file=sys.stderr)


@pytest.mark.slow  # the session's local environment (tests/fixtures_local.py)
def test_master_secret_missing_its_password(local_cli: LocalCli, local_aws, local_settings) -> None:
    arn = local_aws.instance()["MasterUserSecret"]["SecretArn"]
    good = raw_secret(local_aws, arn)
    username = json.loads(good)["username"]
    local_aws.secrets.put_secret_value(SecretId=arn, SecretString=json.dumps({"username": username}))
    try:
        boot = local_cli("bootstrap", "--env", "local")
        line = assert_one_line_error(boot, 1, "master secret", "missing username or password key")
        run, checks = verify_checks(local_cli)
    finally:
        local_aws.secrets.put_secret_value(SecretId=arn, SecretString=good)
    assert run.returncode == 1
    for id_ in ("AC6-LIVE", "AC7", "AC8", "AC10"):  # every database check needs the master's login
        assert checks[id_]["status"] == "ERROR" and "missing username or password" in checks[id_]["detail"]
    assert not any(c["status"] == "PASS" for id_, c in checks.items() if id_.startswith(("ISO", "AC7", "AC8")))
    print(f"\nmaster secret without password: bootstrap: {line}", file=sys.stderr)


# ----- two `local up` at once --------------------------------------------------------------

@pytest.mark.slow  # the session's local environment (tests/fixtures_local.py)
def test_two_local_ups_at_once_serialize_and_both_end_correct(local_cli: LocalCli, local_cold_up: Run) -> None:
    import threading

    assert local_cold_up.returncode == 0
    started = time.monotonic()
    args = ("local", "up", "--format", "json")
    procs = [local_cli.popen(*args) for _ in range(2)]
    lines: dict[int, list[tuple[float, str]]] = {0: [], 1: []}  # stderr, each line with when it came

    def read(i: int) -> None:
        for line in procs[i].stderr:
            lines[i].append((time.monotonic(), line))

    readers = [threading.Thread(target=read, args=(i,)) for i in range(2)]
    for r in readers:
        r.start()
    outs = [p.stdout.read() for p in procs]  # stderr is the readers'
    for p in procs:
        p.wait(timeout=900)
    for r in readers:
        r.join(10)

    def when(i: int, text: str) -> float:
        return next(at for at, line in lines[i] if text in line)

    for i, p in enumerate(procs):
        err = "".join(line for _, line in lines[i])
        local_cli.runs.append(Run(args, p.returncode, outs[i], err, time.monotonic() - started))
        assert p.returncode == 0, err[-3000:]
        assert [c["id"] for c in json.loads(outs[i])["checks"] if c["status"] not in ("PASS", "SKIP")] == []
        boot = next(line for _, line in lines[i] if "bootstrap" in line and line.strip().startswith("ok"))
        assert " 0 of " in boot, boot  # each found the database as it should be
    # Serialized: the second began its first stage (under the lock) only after the first's last one ended.
    first, second = sorted((0, 1), key=lambda i: when(i, "... emulator"))
    # Times are taken when each reader thread reads a line, so two threads may record them a few
    # microseconds out of order; an unserialized run would start minutes before the other's verify.
    assert when(second, "... emulator") > when(first, "ok verify") - 1.0
    print(f"\ntwo local ups at once: the first done in {when(first, 'ok verify') - started:.0f} s, the second "
          f"began {when(second, '... emulator') - started:.0f} s in and was done in "
          f"{when(second, 'ok verify') - started:.0f} s", file=sys.stderr)
