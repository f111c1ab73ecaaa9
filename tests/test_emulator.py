"""The emulator process: started on loopback, recorded by pid, stopped exactly, reset."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys

import boto3
import pytest

from tenantdb.errors import ToolkitError
from tenantdb.local import emulator, state


def _s3(url: str):
    return boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_start_records_pid_and_stop_ends_exactly_that_process(tmp_path):
    port = emulator.free_port()
    emu = emulator.start(tmp_path, port)
    try:
        assert emu.url == f"http://127.0.0.1:{port}"
        rec = json.loads((tmp_path / "moto.json").read_text())
        assert rec["pid"] == emu.proc.pid and rec["port"] == port
        assert emulator.running(tmp_path) == emu
        assert emulator.answers(emu.url)
    finally:
        assert emulator.stop(tmp_path) is True
    assert not emulator.answers(emu.url, timeout=0.5)
    assert state.start_time(emu.proc.pid) is None
    assert not (tmp_path / "moto.json").exists()
    assert emulator.stop(tmp_path) is False  # nothing recorded: nothing to stop


def test_stop_leaves_a_recycled_pid_alone(tmp_path):
    """A record whose pid now belongs to another process (another start time) is not killed."""
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        stale = state.Proc("moto", other.pid, "1", 1)  # start time that is not the process's
        (tmp_path / "moto.json").write_text(json.dumps(dataclasses.asdict(stale)))
        assert emulator.stop(tmp_path) is False
        assert other.poll() is None
    finally:
        other.kill()
        other.wait()


def test_port_taken_by_another_server_is_refused(tmp_path):
    emu = emulator.start(tmp_path / "a", emulator.free_port())
    try:
        with pytest.raises(ToolkitError, match="taken by another server"):
            emulator.start(tmp_path / "b", emu.port)
    finally:
        emulator.stop(tmp_path / "a")


def test_reset_empties_the_emulator(fresh_emulator):
    _s3(fresh_emulator).create_bucket(Bucket="reset-me")
    emulator.reset(fresh_emulator)
    assert _s3(fresh_emulator).list_buckets()["Buckets"] == []


def test_server_listens_on_loopback_only(emulator):
    port = int(emulator.rsplit(":", 1)[1])
    out = subprocess.run(["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True).stdout
    local_addresses = {line.split()[3] for line in out.splitlines()}
    assert local_addresses == {f"127.0.0.1:{port}"}


def test_server_gets_managed_policies_env_only_with_layer(tmp_path):
    emu = emulator.start(tmp_path, emulator.free_port(), plain=True)
    try:
        env = open(f"/proc/{emu.proc.pid}/environ", "rb").read().split(b"\0")
        assert b"MOTO_IAM_LOAD_MANAGED_POLICIES=true" not in env
    finally:
        emulator.stop(tmp_path)
    assert os.environ.get("MOTO_IAM_LOAD_MANAGED_POLICIES") is None
