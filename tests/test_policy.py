"""The policy gate of `tenantdb check`: checkov over each synthesized database
stack, offline, with every exception written with its reason in policy/checkov.toml.

Real checkov (.tools/checkov), real synth (main.py in its own process); nothing mocked.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tenantdb.infra import check
from tenantdb.infra import policy_gate as policy
from tenantdb.infra.check import instance as instance_checks
from tenantdb.infra.check import rotation
from tenantdb import settings as settings_mod
from tenantdb.report import Status

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def tenantdb(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tenantdb.cli", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope="module")
def prod_report() -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    proc = tenantdb("check", "--env", "prod", "--format", "json")
    return proc, json.loads(proc.stdout or "{}")


def test_prod_has_zero_checkov_failures(prod_report) -> None:
    proc, rep = prod_report
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    checks = {c["id"]: c for c in rep["checks"]}
    policy_ids = [i for i in checks if i.startswith("CKV")]
    assert len(policy_ids) >= 40, "checkov's results are listed one check per checkov id"
    assert [i for i in policy_ids if checks[i]["status"] not in ("PASS", "SKIP")] == []
    assert checks["POLICY"]["status"] == "PASS" and "0 fail" in checks["POLICY"]["actual"]
    # What the security review asked checkov to find set explicitly on prod:
    for cid in ("CKV_AWS_161", "CKV_AWS_211", "CKV_AWS_226", "CKV2_AWS_60", "CKV2_AWS_30", "CKV2_AWS_69",
                "CKV_AWS_7", "CKV2_AWS_64", "CKV_AWS_33", "CKV_AWS_149", "CKV2_AWS_57", "CKV_AWS_304",
                "CKV_AWS_158", "CKV_AWS_338", "CKV_AWS_157", "CKV_AWS_293", "CKV_AWS_17", "CKV_AWS_16"):
        assert checks[cid]["status"] == "PASS", (cid, checks[cid])
    assert checks["SH-RDS.25"]["status"] == "PASS"
    assert checks["EXTENDED-SUPPORT"]["status"] == "PASS" and checks["SEC-ROTATION-APP"]["status"] == "PASS"


def test_prod_exceptions_are_listed_with_their_reasons(prod_report) -> None:
    _, rep = prod_report
    skipped = {c["id"]: c["detail"] for c in rep["checks"] if c["status"] == "SKIP"}
    prod = settings_mod.load("prod", None)
    written = {w.id: w for w in policy.load_waivers() if w.applies(prod)}
    assert set(skipped) == set(written), "every SKIP is a written exception and every exception is used"
    for cid, detail in skipped.items():
        assert written[cid].reason[:60] in detail and "policy/checkov.toml" in detail, cid
    # The only exceptions prod carries: key policies' Resource "*", the SAR-attached security group, port 5432.
    assert set(skipped) == {"CKV_AWS_109", "CKV_AWS_111", "CKV_AWS_356", "CKV2_AWS_5", "SH-RDS.23"}


def test_every_exception_has_a_reason_and_known_conditions() -> None:
    waivers = policy.load_waivers()
    assert waivers and all(len(w.reason) > 40 and w.resources for w in waivers)
    for env in settings_mod.ENVIRONMENTS:  # `when` names real settings (or "emulator")
        s = settings_mod.load(env, None)
        for w in waivers:
            w.applies(s)
    # dev and staging differ from prod only where the settings say so (Multi-AZ, deletion protection).
    prod, dev = settings_mod.load("prod", None), settings_mod.load("dev", None)
    extra = {w.id for w in waivers if w.applies(dev)} - {w.id for w in waivers if w.applies(prod)}
    assert extra == {"CKV_AWS_157", "CKV_AWS_293"}
    assert {k for w in waivers if w.id in extra for k in w.when} <= {"multi_az", "deletion_protection"}


def test_weakened_settings_fail_the_named_checkov_checks(tmp_path: Path) -> None:
    overlay = tmp_path / "weak.toml"
    overlay.write_text("[prod]\niam_database_authentication = false\nauto_minor_version_upgrade = false\n"
                       "copy_tags_to_snapshot = false\n")
    proc = tenantdb("--settings", str(overlay), "check", "--env", "prod", "--format", "json")
    assert proc.returncode == 1, proc.stderr[-2000:]
    checks = {c["id"]: c for c in json.loads(proc.stdout)["checks"]}
    failed = {i for i, c in checks.items() if c["status"] == "FAIL"}
    assert {"CKV_AWS_161", "CKV_AWS_226", "CKV2_AWS_60"} <= failed, failed
    assert "resource.db" in checks["CKV_AWS_161"]["actual"]
    assert checks["POLICY"]["status"] == "FAIL" and "3 fail" in checks["POLICY"]["actual"]


# ----- the gate itself, on the session's synthesized stacks (no extra synth) ----------------

def _stack(synth_out: dict[str, Path], env: str, tmp_path: Path) -> tuple[settings_mod.Settings, Path, dict]:
    s = settings_mod.load(env, None)
    d = tmp_path / s.stack_id
    d.mkdir()
    shutil.copy(synth_out[s.stack_id] / "cdk.tf.json", d / "cdk.tf.json")
    doc = json.loads((d / "cdk.tf.json").read_text())
    (instance,) = doc["resource"]["aws_db_instance"].values()
    return s, d / "cdk.tf.json", instance


def test_missing_checkov_is_error_not_pass(synth_out: dict[str, Path], tmp_path: Path) -> None:
    s, stack_file, instance = _stack(synth_out, "prod", tmp_path)
    s = s.replaced(checkov_path=str(tmp_path / "no-checkov"))
    out = {c.id: c for c in policy.checks(s, stack_file, instance)}
    assert out["POLICY"].status is Status.ERROR and "scripts/setup" in out["POLICY"].detail
    assert not any(i.startswith("CKV") for i in out)


def test_stale_exception_fails_the_summary(synth_out: dict[str, Path], tmp_path: Path) -> None:
    s, stack_file, instance = _stack(synth_out, "prod", tmp_path)
    config = tmp_path / "checkov.toml"
    config.write_text(policy.CONFIG.read_text() + '\n[[exception]]\nid = "CKV_AWS_161"\n'
                      'resources = ["resource.db"]\nreason = "a stale exception nobody needs any more"\n')
    out = {c.id: c for c in policy.checks(s, stack_file, instance, config=config)}
    assert out["CKV_AWS_161"].status is Status.PASS
    assert out["POLICY"].status is Status.FAIL and "CKV_AWS_161" in out["POLICY"].detail


def test_unknown_condition_and_missing_reason_are_errors(synth_out: dict[str, Path], tmp_path: Path) -> None:
    s, stack_file, instance = _stack(synth_out, "dev", tmp_path)
    for body in ('[[exception]]\nid = "CKV_AWS_157"\nresources = ["resource.db"]\nreason = "x"\n'
                 'when = { multiaz = false }\n',
                 '[[exception]]\nid = "CKV_AWS_157"\nresources = ["resource.db"]\n'):
        config = tmp_path / "bad.toml"
        config.write_text(body)
        (summary,) = [c for c in policy.checks(s, stack_file, instance, config=config) if c.id == "POLICY"]
        assert summary.status is Status.ERROR, body


def test_an_unexcepted_failure_fails(synth_out: dict[str, Path], tmp_path: Path) -> None:
    """dev without its written exceptions: Multi-AZ and deletion protection FAIL, naming the resource."""
    s, stack_file, instance = _stack(synth_out, "dev", tmp_path)
    config = tmp_path / "none.toml"
    config.write_text("")
    out = {c.id: c for c in policy.checks(s, stack_file, instance, config=config)}
    assert out["CKV_AWS_157"].status is Status.FAIL and "resource.db" in out["CKV_AWS_157"].actual
    assert out["CKV_AWS_293"].status is Status.FAIL
    assert out["SH-RDS.23"].status is Status.FAIL  # port 5432 with no written exception
    assert out["POLICY"].status is Status.FAIL


def test_extended_support_and_rotation_assertions_fail_on_a_tampered_stack(synth_out: dict[str, Path],
                                                                          tmp_path: Path) -> None:
    s = settings_mod.load("prod", None)
    doc = json.loads((synth_out[s.stack_id] / "cdk.tf.json").read_text())
    (instance,) = doc["resource"]["aws_db_instance"].values()
    instance.pop("engine_lifecycle_support")
    connection_rotation = doc["resource"]["aws_secretsmanager_secret_rotation"]["connection"]
    connection_rotation["rotation_rules"]["automatically_after_days"] = 120
    doc["resource"]["aws_serverlessapplicationrepository_cloudformation_stack"]["rotation"]["parameters"].pop("kmsKeyArn")
    ctx = check.Ctx(s, check.baseline(s), check.Stack(tmp_path, doc))
    (es,) = check.run_check("EXTENDED-SUPPORT", "", lambda: instance_checks.extended_support(ctx))
    assert es.status is Status.FAIL and "Extended Support" in es.detail
    (rot,) = check.run_check("SEC-ROTATION-APP", "", lambda: rotation.app_secrets(ctx))
    assert rot.status is Status.FAIL
    assert "every 120 d" in rot.detail and "kmsKeyArn" in rot.detail
