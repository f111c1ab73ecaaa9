"""`tenantdb local up|status|down` end to end, through the real CLI: moto with the
fidelity layer, the real Terraform and provider, a real PostgreSQL cluster,
then the bootstrap and the verifier. Runs on free ports in a temporary state
directory, so it never touches a developer's own `local up`.

The tests in this module share one environment and run in file order:
cold up, warm up (converges), status, the lock, down.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tenantdb.infra import apply
from tenantdb import settings as settings_mod
from tenantdb.local import emulator, state

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "tenantdb.cli"]


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def tenantdb(overlay: Path, *args: str, timeout: float = 1200) -> Run:
    started = time.monotonic()
    proc = subprocess.run([*CLI, "--settings", str(overlay), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)
    return Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - started)


# The environment is the session's one `local up` (tests/fixtures_local.py), shared with
# test_faults.py, test_load.py and test_no_secrets.py; the `down` tests run last.
@pytest.fixture(scope="module")
def overlay(local_overlay: Path) -> Path:
    return local_overlay


@pytest.fixture(scope="module")
def local(local_settings: settings_mod.Settings) -> settings_mod.Settings:
    return local_settings


@pytest.fixture(scope="module")
def cold_up(local_cold_up: Run) -> Run:
    return local_cold_up


def test_cold_up_passes_every_check(cold_up: Run, local: settings_mod.Settings) -> None:
    assert cold_up.returncode == 0, cold_up.stderr[-3000:] + cold_up.stdout[-3000:]
    rep = json.loads(cold_up.stdout)
    assert rep["environment"] == "local" and rep["stage"] == "verify"
    # Only what the emulator cannot host may SKIP, and it must say so (issue 6: rotation).
    skips = {c["id"]: c["detail"] for c in rep["checks"] if c["status"] == "SKIP"}
    assert all(d.startswith("emulator:") for d in skips.values()), skips
    not_passed = [(c["id"], c["status"], c["detail"]) for c in rep["checks"]
                  if c["status"] != "PASS" and c["id"] not in skips]
    assert not_passed == []
    ids = {c["id"] for c in rep["checks"]}
    assert {f"AC{i}" for i in range(1, 11)} <= ids
    # the progress display: every stage, each with its time, on stderr
    for stage in ("emulator", "PostgreSQL cluster", "synth", f"terraform apply {local.network_stack_id}",
                  f"terraform apply {local.stack_id}", "instance -> local cluster", "bootstrap", "verify"):
        assert any(stage in line and line.strip().startswith("ok") and " s)" in line
                   for line in cold_up.stderr.splitlines()), (stage, cold_up.stderr)
    print(f"\ncold local up: {cold_up.seconds:.1f} s\n{cold_up.stderr}", file=sys.stderr)


def test_cold_up_brought_the_instance_to_life(cold_up: Run, local: settings_mod.Settings) -> None:
    """The cluster is what the emulated instance says: master from its secret, RDS powers, db_name, parameters."""
    import psycopg

    from tenantdb.aws import Aws

    assert cold_up.returncode == 0
    aws = Aws(local)
    inst = aws.instance()
    user, password = aws.master_credentials(inst)
    assert user == local.master_username == inst["MasterUsername"]
    host, port = local.db_endpoint.split(":")
    with psycopg.connect(host=host, port=port, user=user, password=password, dbname=inst["DBName"],
                         sslmode="require") as conn:
        row = conn.execute("SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls FROM pg_roles "
                           "WHERE rolname = current_user").fetchone()
        assert row == (False, True, True, False)
        assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
        shown = dict(conn.execute("SELECT name, setting FROM pg_settings WHERE name IN "
                                  "('max_connections', 'shared_buffers', 'work_mem')").fetchall())
    params = local.db_parameters
    assert shown["max_connections"] == params["max_connections"][0]
    assert shown["work_mem"] == params["work_mem"][0]
    assert int(shown["shared_buffers"]) == local.instance_memory_bytes // 32768  # 8 kB pages: 25%
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=host, port=port, user=user, password=password, dbname="postgres",
                        sslmode="disable", connect_timeout=5).close()


def test_warm_up_converges(cold_up: Run, overlay: Path, local: settings_mod.Settings) -> None:
    assert cold_up.returncode == 0
    warm = tenantdb(overlay, "local", "up")
    assert warm.returncode == 0, warm.stderr[-3000:]
    lines = warm.stderr.splitlines()
    for sid in (local.network_stack_id, local.stack_id):
        line = next(ln for ln in lines if f"terraform apply {sid}" in ln and ln.strip().startswith("ok"))
        assert "0 added, 0 changed, 0 destroyed" in line, line
    boot = next(ln for ln in lines if "bootstrap" in ln and ln.strip().startswith("ok"))
    assert " 0 of " in boot, boot
    assert "started" not in "\n".join(ln for ln in lines if "emulator" in ln or "PostgreSQL" in ln)
    assert "PASS" in warm.stdout and "FAIL" not in warm.stdout and "ERROR" not in warm.stdout
    out = local.local_state_dir
    deployed = apply.Deployed(local, {sid: Path(out) / "cdktf.out" / "stacks" / sid
                                      for sid in apply.stack_ids(local)})
    assert apply.drift(deployed) == []
    print(f"\nwarm local up: {warm.seconds:.1f} s\n{warm.stderr}", file=sys.stderr)


def test_status_says_what_runs_where(cold_up: Run, overlay: Path, local: settings_mod.Settings) -> None:
    run = tenantdb(overlay, "local", "status", "--format", "json")
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert info["processes"]["moto"]["running"] and info["processes"]["postgres"]["running"]
    assert info["processes"]["moto"]["address"] == local.aws_endpoint_url
    assert info["processes"]["postgres"]["address"] == local.db_endpoint
    assert info["instance"].startswith(f"{local.instance_identifier}.")
    table = tenantdb(overlay, "local", "status")
    assert "running" in table.stdout and local.db_endpoint in table.stdout


def test_a_port_changed_while_running_is_refused(cold_up: Run, overlay: Path,
                                                 local: settings_mod.Settings, tmp_path: Path) -> None:
    """Settings whose PostgreSQL port differs from the running cluster's: status says so, env and up
    refuse before anything changes, and the cluster keeps running where it was."""
    import tomllib

    values = tomllib.loads(overlay.read_text())
    values["local"]["local_postgres_port"] = emulator.free_port()
    moved = apply.emulator_overlay(tmp_path / "moved.toml", values)
    directory = state.state_dir(local.local_state_dir)
    before = state.read(directory, "postgres")
    assert before is not None and before.running

    status = tenantdb(moved, "local", "status", "--format", "json")
    assert status.returncode == 0, status.stderr
    said = json.loads(status.stdout)["moved"]
    assert said == [f"the local postgres runs on port {before.port}, the settings say "
                    f"{values['local']['local_postgres_port']} (local_postgres_port)"]
    env = tenantdb(moved, "local", "env")
    assert env.returncode == 1 and "run `tenantdb local down`" in env.stderr and "export" not in env.stdout
    up = tenantdb(moved, "local", "up", timeout=120)
    assert up.returncode == 1, up.stderr[-2000:]
    assert len(up.stderr.strip().splitlines()) == 1 and "local_postgres_port" in up.stderr
    assert "Traceback" not in up.stderr and up.seconds < 30
    after = state.read(directory, "postgres")
    assert after == before and after.running  # nothing recorded, nothing restarted


def test_verify_of_a_local_environment_that_is_not_running_is_one_line(tmp_path: Path) -> None:
    """Nothing of `local up` runs (a fresh state directory): one line and exit 1, not a report of
    ERRORs that all say the same."""
    empty = apply.emulator_overlay(tmp_path / "none.toml", {"local": {
        "local_state_dir": str(tmp_path / "state"), "local_moto_port": emulator.free_port(),
        "local_postgres_port": emulator.free_port()}})
    run = tenantdb(empty, "verify", "--env", "local", timeout=120)
    assert run.returncode == 1
    assert run.stderr.strip().endswith("the local environment is not running: tenantdb local up"), run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and run.stdout == ""


def test_down_waits_for_a_running_up(cold_up: Run, overlay: Path, local: settings_mod.Settings,
                                     local_down_last: None) -> None:
    """`local up` and `local down` share one lock: down cannot pull the state away under an up."""
    directory = state.state_dir(local.local_state_dir)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with state.locked(directory):
            held.set()
            release.wait(30)

    recorded = [state.read(directory, name) for name in ("moto", "postgres")]
    assert all(rec is not None and rec.running for rec in recorded)
    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(10)
    down = subprocess.Popen([*CLI, "--settings", str(overlay), "local", "down"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(3)
        assert down.poll() is None and directory.exists()  # still waiting for the lock
    finally:
        release.set()
        holder.join()
    out, err = down.communicate(timeout=120)
    assert down.returncode == 0, err
    assert "another `tenantdb local up|down` is running" in err  # said, not a silent wait
    assert not directory.exists()
    for rec in recorded:
        assert f"stopped pid {rec.pid}" in out
        assert not rec.running


def test_down_left_no_process_and_no_state(cold_up: Run, overlay: Path, local: settings_mod.Settings,
                                           local_down_last: None) -> None:
    directory = state.state_dir(local.local_state_dir)
    assert not directory.exists()
    moto_port = int(local.aws_endpoint_url.rsplit(":", 1)[1])
    pg_port = int(local.db_endpoint.rsplit(":", 1)[1])
    assert not emulator.listening(moto_port) and not emulator.listening(pg_port)
    again = tenantdb(overlay, "local", "down")
    assert again.returncode == 0 and "nothing runs" in again.stdout
    status = tenantdb(overlay, "local", "status", "--format", "json")
    assert status.returncode == 0
    assert not any(p["running"] for p in json.loads(status.stdout)["processes"].values())
