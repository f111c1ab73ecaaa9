"""The small parts of `local up`, fast: the progress display, pid records, the lock,
the overlay writer, and the errors `local` gives before starting anything."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time

import pytest

from tenantdb.infra import apply
from tenantdb import settings as settings_mod
from tenantdb.errors import ToolkitError
from tenantdb.local import pipeline, state
from tenantdb.local.progress import Progress


def test_progress_prints_each_stage_with_its_time():
    out = io.StringIO()
    p = Progress(out, live=False)
    with p.stage("synth"):
        time.sleep(0.05)
        p.note("3 stacks")
    lines = out.getvalue().splitlines()
    assert lines[0] == "  ... synth"
    assert lines[1].strip().startswith("ok synth (0.") and lines[1].endswith("s)  3 stacks")
    assert p.timings[0][0] == "synth" and p.timings[0][1] >= 0.05


def test_progress_marks_a_failed_stage_and_lets_the_error_through():
    out = io.StringIO()
    p = Progress(out, live=False)
    with pytest.raises(ToolkitError), p.stage("terraform apply"):
        raise ToolkitError("boom")
    assert "FAILED terraform apply" in out.getvalue()
    assert p.timings == [("terraform apply", pytest.approx(0, abs=0.5), False)]


def test_live_progress_ticks_while_the_stage_runs():
    out = io.StringIO()
    p = Progress(out, live=True)
    with p.stage("terraform apply qualisys-db-local"):
        time.sleep(2.3)
    text = out.getvalue()
    ticks = [t for t in text.split("\r") if "..." in t]
    assert len(ticks) >= 3  # at 0, 1 and 2 seconds
    assert "(2 s)" in text and text.rstrip().endswith("s)")


def test_record_and_terminate_only_our_process(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rec = state.record(tmp_path, "thing", child.pid, 1234, url="x")
        assert state.read(tmp_path, "thing") == rec and rec.running
        assert state.terminate(rec) is True
        assert child.wait(timeout=5) is not None
        assert not rec.running and state.terminate(rec) is False
    finally:
        child.kill()
        child.wait()


def test_lock_serializes(tmp_path):
    directory = tmp_path / "local"
    order: list[str] = []

    def second():
        with state.locked(directory):
            order.append("second")

    with state.locked(directory):
        t = threading.Thread(target=second)
        t.start()
        time.sleep(0.3)
        order.append("first done")
    t.join(5)
    assert order == ["first done", "second"]


def test_state_dir_relative_to_project_root(tmp_path):
    from tenantdb.paths import PROJECT_ROOT

    assert state.state_dir(".tenantdb/local") == PROJECT_ROOT / ".tenantdb/local"
    assert state.state_dir(str(tmp_path)) == tmp_path


def test_overlay_round_trips_through_the_settings(tmp_path):
    path = apply.emulator_overlay(tmp_path / "o.toml", {
        "dev": {"aws_endpoint_url": "http://127.0.0.1:1234", "aws_internal_roles": ["rdsadmin", "postgres"]},
        "local": {"local_moto_port": 4700, "local_state_dir": str(tmp_path / 'a "quoted" dir')},
    })
    dev = settings_mod.load("dev", path)
    assert dev.aws_endpoint_url == "http://127.0.0.1:1234"
    assert dev.aws_internal_roles == ("rdsadmin", "postgres")
    local = settings_mod.load("local", path)
    assert local.aws_endpoint_url == "http://127.0.0.1:4700"
    assert local.local_state_dir.endswith('a "quoted" dir')


def test_stack_order_network_standin_first():
    assert apply.stack_ids(settings_mod.load("local")) == ["qualisys-network-local", "qualisys-db-local"]
    assert apply.stack_ids(settings_mod.load("prod")) == ["qualisys-db-prod"]


def test_emulator_credentials_only_with_an_endpoint():
    assert "AWS_ACCESS_KEY_ID" in apply.tf_env(settings_mod.load("local"))
    assert "AWS_ACCESS_KEY_ID" not in apply.tf_env(settings_mod.load("prod"))


def test_local_commands_refuse_other_environments():
    with pytest.raises(ToolkitError, match="local environment only"):
        pipeline.up(settings_mod.load("dev"))


def test_up_refuses_a_port_taken_by_another_server():
    import shutil
    import socket
    import tempfile
    from pathlib import Path

    tmp_path = Path(tempfile.mkdtemp(prefix="tenantdb-busy-", dir="/tmp"))
    os.chmod(tmp_path, 0o755)  # reachable by the postgres user (the preflight checks it)

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        s = settings_mod.load("local", None, local_moto_port=port, local_state_dir=str(tmp_path / "st"))
        err = io.StringIO()
        with pytest.raises(ToolkitError, match=f"127.0.0.1:{port} is taken by another server"):
            pipeline.up(s, progress=Progress(err, live=False))
    assert "FAILED emulator" in err.getvalue()
    assert not (tmp_path / "st" / "moto.json").exists()
    shutil.rmtree(tmp_path)


def test_down_with_nothing_running_says_so(tmp_path, capsys):
    s = settings_mod.load("local", None, local_state_dir=str(tmp_path / "none"))
    assert pipeline.down(s) == 0
    assert "nothing runs" in capsys.readouterr().out


def test_instance_memory_from_the_class_the_emulator_reports():
    s = settings_mod.load("local", None, instance_class="db.t3.medium")
    assert pipeline.instance_memory_bytes(s, {"DBInstanceClass": "db.t3.medium"}) == 4 * 1024**3
    with pytest.raises(ToolkitError, match="'db.r5.large' in the emulator, 'db.t3.medium' in settings"):
        pipeline.instance_memory_bytes(s, {"DBInstanceClass": "db.r5.large"})


@pytest.mark.skipif(os.geteuid() != 0, reason="the postgres user only matters when running as root")
def test_up_refuses_a_state_dir_postgres_cannot_reach_before_starting_anything(tmp_path):
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    s = settings_mod.load("local", None, local_state_dir=str(private / "state"))
    err = io.StringIO()
    with pytest.raises(ToolkitError, match="not searchable by the postgres user"):
        pipeline.up(s, progress=Progress(err, live=False))
    assert err.getvalue() == "" and not (private / "state").exists()
