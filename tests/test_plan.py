"""`tenantdb plan` with real plans: dev's exact stacks applied to the emulator with
the real Terraform (tests/fixtures_aws.py ``applied_env``), then planned again
with changed settings through the CLI.

- no change: every stack reports "no changes", exit 0;
- db_name changed (ForceNew on aws_db_instance in provider 5.100): the guard
  FAILs naming aws_db_instance.db and db_name, exit 1; with
  --allow-replace aws_db_instance.db the same plan passes, exit 0;
- backup window and max_connections changed: in-place, exit 0, the instance
  update is listed and the static parameter gets a reboot WARN.

Plans never change AWS state, so the shared applied environment stays as it was.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tenantdb import cli
from tenantdb.infra import apply


def test_bad_allow_replace_address_is_a_usage_error_before_anything_runs(capsys):
    code = cli.main(["plan", "--env", "local", "--allow-replace", "rm -rf /"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("tenantdb: error: --allow-replace 'rm -rf /': not a resource address")
    assert len(err.strip().splitlines()) == 1


def test_local_plan_without_the_local_environment_is_an_error_not_a_pass(tmp_path, capsys):
    """Nothing answers at local's emulator port: ERROR naming the fix, exit 1, no synth, no terraform."""
    from tenantdb.local import emulator

    overlay = apply.emulator_overlay(tmp_path / "o.toml", {"local": {"local_moto_port": emulator.free_port()}})
    code = cli.main(["--settings", str(overlay), "plan", "--env", "local", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    (check,) = report["checks"]
    assert check["status"] == "ERROR" and "tenantdb local up" in check["detail"]


@pytest.fixture
def dev(applied_env):
    applied = applied_env("dev")
    assert applied.drift_after_apply == [], "dev drifts right after apply; plans below would be noisy"
    return applied


def run_plan(tmp_path: Path, capsys, monkeypatch, dev, changes: dict, *args: str) -> tuple[int, dict]:
    """`tenantdb --settings OVERLAY plan --env dev --format json ARGS`: (exit code, report)."""
    overlay = apply.emulator_overlay(tmp_path / "overlay.toml", {"dev": {"aws_endpoint_url": dev.url, **changes}})
    monkeypatch.setenv("CDKTF_OUTDIR", str(tmp_path / "cdktf.out"))  # never the shared synth output
    capsys.readouterr()
    code = cli.main(["--settings", str(overlay), "plan", "--env", "dev", "--format", "json", *args])
    out = capsys.readouterr().out
    return code, json.loads(out)


def only(report: dict, ident: str) -> list[dict]:
    return [c for c in report["checks"] if c["id"] == ident]


@pytest.mark.slow
def test_unchanged_settings_plan_no_changes(tmp_path, capsys, monkeypatch, dev):
    code, report = run_plan(tmp_path, capsys, monkeypatch, dev, {})
    assert code == 0, report
    assert report["stage"] == "plan" and report["environment"] == "dev"
    assert [(c["id"], c["title"], c["actual"]) for c in report["checks"]] == [
        ("PLAN", dev.settings.network_stack_id, "no changes"),
        ("PLAN", dev.settings.stack_id, "no changes"),
    ]
    # Each stack's plan is saved, with its JSON beside it.
    for sid in (dev.settings.network_stack_id, dev.settings.stack_id):
        saved = tmp_path / "cdktf.out" / "stacks" / sid / "tenantdb.tfplan"
        assert saved.is_file() and json.loads(saved.with_name("tenantdb.tfplan.json").read_text())


@pytest.mark.slow
def test_replacing_the_instance_fails_naming_it_and_the_attribute(tmp_path, capsys, monkeypatch, dev):
    out = tmp_path / "plans" / "dev.tfplan"
    code, report = run_plan(tmp_path, capsys, monkeypatch, dev, {"db_name": "qualisys_renamed"},
                            "--out", str(out))
    assert code == 1, report
    failures = [c for c in report["checks"] if c["status"] == "FAIL"]
    assert [c["title"] for c in failures] == [f"{dev.settings.stack_id}:aws_db_instance.db"]
    (fail,) = failures
    assert fail["id"] == "REPLACE"
    assert 'db_name ("qualisys_master" -> "qualisys_renamed")' in fail["detail"]
    assert "--allow-replace aws_db_instance.db" in fail["detail"]
    # --out with two stacks: one file per stack, named after it.
    assert (out.parent / f"dev.{dev.settings.stack_id}.tfplan").is_file()
    assert (out.parent / f"dev.{dev.settings.network_stack_id}.tfplan").is_file()


@pytest.mark.slow
def test_allowed_replacement_passes(tmp_path, capsys, monkeypatch, dev):
    code, report = run_plan(tmp_path, capsys, monkeypatch, dev, {"db_name": "qualisys_renamed"},
                            "--allow-replace", "aws_db_instance.db")
    assert code == 0, report
    (replace,) = only(report, "REPLACE")
    assert replace["status"] == "PASS" and "allowed by --allow-replace" in replace["detail"]
    assert "db_name" in replace["detail"]
    summary = [c for c in only(report, "PLAN") if c["title"] == dev.settings.stack_id][0]
    assert "1 to replace" in summary["actual"]


@pytest.mark.slow
def test_in_place_change_passes_and_is_listed_with_a_reboot_warning(tmp_path, capsys, monkeypatch, dev):
    code, report = run_plan(tmp_path, capsys, monkeypatch, dev,
                            {"backup_window": "05:00-06:00", "max_connections": 250})
    assert code == 0, report
    assert not only(report, "REPLACE") and not only(report, "DESTROY")
    changes = {c["title"]: c["actual"] for c in only(report, "CHANGE")}
    db = f"{dev.settings.stack_id}:aws_db_instance.db"
    assert "backup_window" in changes[db]
    (reboot,) = only(report, "REBOOT")
    assert reboot["status"] == "PASS" and reboot["detail"].startswith("WARN")
    assert "max_connections 200 -> 250" in reboot["detail"]
