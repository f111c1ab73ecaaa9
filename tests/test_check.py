"""`tenantdb check`: exit codes and reports through the real CLI (synth in its
own process, real Terraform offline), and the assertions' ability to fail."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from tenantdb import checks
from tenantdb.infra import check
from tenantdb.infra import policy_gate as policy
from tenantdb.infra.check import instance as instance_checks
from tenantdb import settings as settings_mod
from tenantdb.report import Status

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CRITERIA = ("AC1", "AC2", "AC3", "AC4", "AC5", "AC6", "AC9")


def tenantdb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tenantdb.cli", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="session")
def passing_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("check") / "report.json"
    return tenantdb("check", "--format", "json", "--output", str(out)), out


def test_check_passes_for_every_environment(passing_run: tuple) -> None:
    proc, out = passing_run
    doc = json.loads(out.read_text())
    bad = [(c["environment"], c["id"], c["status"], c["detail"]) for c in doc["checks"]
           if c["status"] in ("FAIL", "ERROR")]
    assert proc.returncode == 0 and not bad, (bad, proc.stderr[-2000:])
    assert json.loads(proc.stdout) == doc
    assert doc["environment"] == "all" and doc["stage"] == "check" and doc["schema_version"] == 2
    assert [e["environment"] for e in doc["environments"]] == list(settings_mod.ENVIRONMENTS)
    reports = [{**e, "stage": doc["stage"],
                "checks": [c for c in doc["checks"] if c["environment"] == e["environment"]]}
               for e in doc["environments"]]
    for r in reports:
        assert r["stage"] == "check"
        statuses = {c["id"]: c["status"] for c in r["checks"]}
        for cid in (*CRITERIA, "TF-INIT", "TF-VALIDATE", "SEC-NO-PASSWORD", "NET-LOOKUP", "PUBLIC-ACCESS",
                    "KMS-ROTATION", "KMS-POLICY", "IRSA", "BACKEND", "OUTPUTS"):
            assert statuses.get(cid) == "PASS", (r["environment"], cid, statuses.get(cid))
        # SKIP only for the written exceptions (policy/checkov.toml) and, where AWS is an emulator,
        # the rotation resources it leaves out.
        skips = {c["id"] for c in r["checks"] if c["status"] == "SKIP"}
        allowed = {w.id for w in policy.load_waivers()} | (
            {"SEC-ROTATION-APP"} if r["environment"] == "local" else set())
        assert skips <= allowed, skips - allowed
        assert statuses["POLICY"] == "PASS" and statuses["SH-RDS.25"] == "PASS"
        assert r["summary"] == {"pass": len(r["checks"]) - len(skips), "fail": 0, "error": 0, "skip": len(skips)}
        assert set(r["checks"][0]) == {"environment", "id", "title", "status", "expected", "actual", "detail"}
        for c in r["checks"]:  # every line is a registered control with its one title, or checkov's own
            assert c["id"].startswith("CKV") or c["title"] == checks.get(c["id"]).title, c
    local = next(r for r in reports if r["environment"] == "local")
    assert {c["id"] for c in local["checks"]} >= {"NET-STANDIN", "NET-TF-INIT", "NET-TF-VALIDATE"}


def test_check_fails_naming_ac3_when_prod_is_single_az(tmp_path: Path) -> None:
    overlay = tmp_path / "broken.toml"
    overlay.write_text("[prod]\nmulti_az = false\n")
    junit = tmp_path / "check.xml"
    proc = tenantdb("--settings", str(overlay), "check", "--env", "prod", "--format", "junit",
                    "--output", str(junit))
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "AC3" in proc.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == "tenantdb.check.prod"
    failures = {case.get("name").split()[0] for case in suite.iter("testcase") if case.find("failure") is not None}
    assert failures == {"AC3"}
    assert suite.get("failures") == "1" and suite.get("errors") == "0"


def test_check_bad_setting_exits_2_with_one_line(tmp_path: Path) -> None:
    overlay = tmp_path / "bad.toml"
    overlay.write_text("[dev]\nengine_major = 14\n")
    proc = tenantdb("--settings", str(overlay), "check")
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "engine_major=14" in lines[0] and "Traceback" not in proc.stderr


def test_check_unknown_environment_exits_2() -> None:
    proc = tenantdb("check", "--env", "qa")
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1


# ----- the checker itself, against the session's synthesized stacks -------------

def _copy_stack(synth_out: dict[str, Path], stack_id: str, dest: Path) -> Path:
    target = dest / stack_id
    target.mkdir(parents=True)
    shutil.copy(synth_out[stack_id] / "cdk.tf.json", target / "cdk.tf.json")
    return target


def _statuses(report: Any) -> dict[str, Status]:
    return {c.id: c.status for c in report.checks}


def test_init_failure_is_error_not_pass(synth_out: dict[str, Path], tmp_path: Path) -> None:
    s = settings_mod.load("dev", None, provider_mirror=str(tmp_path / "no-mirror"))
    d = _copy_stack(synth_out, s.stack_id, tmp_path)
    rep = check.check_environment(s, {s.stack_id: d})
    st = _statuses(rep)
    assert st["TF-INIT"] is Status.ERROR and st["TF-VALIDATE"] is Status.ERROR
    assert rep.exit_code == 1


def test_missing_stack_is_error(tmp_path: Path) -> None:
    s = settings_mod.load("prod", None)
    rep = check.check_environment(s, {})
    assert rep.checks and all(c.status is Status.ERROR for c in rep.checks)
    assert {"AC1", "AC3", "AC9"} <= set(_statuses(rep))


def test_assertions_catch_a_tampered_stack(synth_out: dict[str, Path], tmp_path: Path) -> None:
    """Edit the synthesized JSON the way a bad change would; the named checks FAIL."""
    s = settings_mod.load("prod", None)
    doc = json.loads((synth_out[s.stack_id] / "cdk.tf.json").read_text())
    (instance,) = doc["resource"]["aws_db_instance"].values()
    instance.update(publicly_accessible=True, storage_encrypted=False, password="hunter2", engine_version="14",
                    backup_window="05:00-06:00", vpc_security_group_ids=["sg-0123456789abcdef0"])
    doc["resource"]["aws_kms_key"]["secrets"]["enable_key_rotation"] = False
    doc["resource"]["aws_secretsmanager_secret_version"] = {"v": {"secret_id": "x", "secret_string": "y"}}
    doc["data"]["aws_iam_policy_document"]["connection_read"]["statement"][0]["resources"] = ["*"]
    for p in doc["resource"]["aws_db_parameter_group"]["postgres"]["parameter"]:
        if p["name"] == "max_connections":
            p["value"] = "100"
    ctx = check.Ctx(s, check.baseline(s), check.Stack(tmp_path, doc))
    assertions = {c.part_of or c.id for c in checks.stage("check")} - {"TF-INIT", "POLICY", "NET-STANDIN",
                                                                       "ACCESS-STACK"}  # these run tools
    results = {c.id: c for cid in assertions
               for c in check.run_check(cid, "", lambda cid=cid: checks.load(checks.get(cid).check)(ctx))}
    for cid in ("AC1", "AC4", "AC5", "AC6", "AC9", "SEC-NO-PASSWORD", "PUBLIC-ACCESS", "NET-LOOKUP",
                "KMS-ROTATION", "IRSA"):
        assert results[cid].status is Status.FAIL, (cid, results[cid])
    for cid in ("AC2", "AC3", "STORAGE", "MONITORING", "LOG-EXPORTS", "BACKEND"):
        assert results[cid].status is Status.PASS, (cid, results[cid])
    assert "hunter2" not in json.dumps([c.to_dict() for c in results.values()])


def test_prod_instance_class_override_breaks_ac2(synth_out: dict[str, Path], tmp_path: Path) -> None:
    """The expectation is the story's value for the environment, not whatever the overlay says."""
    s = settings_mod.load("prod", None, instance_class="db.t3.medium")
    doc = json.loads((synth_out[s.stack_id] / "cdk.tf.json").read_text())
    (instance,) = doc["resource"]["aws_db_instance"].values()
    instance["instance_class"] = s.instance_class
    ctx = check.Ctx(s, check.baseline(s), check.Stack(tmp_path, doc))
    (ac2,) = check.run_check("AC2", "", lambda: instance_checks.ac2_class(ctx))
    assert ac2.status is Status.FAIL and "db.r5.large" in ac2.detail
