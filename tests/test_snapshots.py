"""Story 0.4 AC4 and task 1.6, day two: the final snapshot is named once per instance lifetime, and gp3's
provisioned IOPS and throughput reach the instance only when set.

- Offline: the synthesized prod instance names its final snapshot ``<id>-final-<stamp>`` after
  ``terraform_data.final_snapshot_stamp`` (a timestamp captured once, then ignored), copies its tags to
  snapshots, and FINAL-SNAPSHOT fails on the fixed name it had before; STORAGE asserts gp3 IOPS and
  throughput when set.
- Built-in Terraform (no provider, seconds): the stamp as synthesized, with a stand-in holding the
  instance's final snapshot name, lives through destroy -> recreate -> destroy with two distinct names,
  an empty plan in between, and a new stamp when the instance's identifier changes.
- On the emulator (the real provider, about a minute): prod's instance and stamp in a small stack, the
  instance imported: the plan names the final snapshot at plan time, the plan guard still refuses
  replacing the instance (the stamp is replaced with it), and replacing the stamp alone is an in-place
  update it allows.
"""

from __future__ import annotations

import copy
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest

from tenantdb import settings
from tenantdb.infra import apply, plan_guard, terraform
from tenantdb.infra import check
from tenantdb.infra.check import instance as instance_checks
from tenantdb.report import Status

STAMP_REF = "${terraform_data.final_snapshot_stamp.output}"
GP3 = {"allocated_storage_gb": 400, "max_allocated_storage_gb": 500, "storage_iops": 16000,
       "storage_throughput_mibps": 1000}


@pytest.fixture(scope="module")
def docs(synth_in_process: Any) -> dict[str, dict]:
    """prod as the story sets it, and dev with gp3 provisioned performance (400 GiB)."""
    return synth_in_process([settings.load("prod"), settings.load("dev", **GP3)])


def _db(doc: dict) -> dict:
    return doc["resource"]["aws_db_instance"]["db"]


def _ctx(s: settings.Settings, doc: dict, tmp_path: Path) -> check.Ctx:
    return check.Ctx(s, check.baseline(s), check.Stack(tmp_path, doc))


def test_prod_final_snapshot_is_named_once_per_instance_lifetime(docs: dict, tmp_path: Path) -> None:
    s = settings.load("prod")
    doc = docs[s.stack_id]
    db = _db(doc)
    assert db["final_snapshot_identifier"] == f"{s.instance_identifier}-final-{STAMP_REF}"
    assert db["skip_final_snapshot"] is False and db["copy_tags_to_snapshot"] is True
    stamp = doc["resource"]["terraform_data"]["final_snapshot_stamp"]
    assert stamp["input"] == '${formatdate("YYYYMMDDhhmmss", timestamp())}'
    assert stamp["lifecycle"] == {"ignore_changes": ["input"]}  # captured once: no diff on later plans
    # Renewed with the instance: every input that replaces the instance replaces the stamp too.
    assert stamp["triggers_replace"] == {"identifier": db["identifier"], "kms_key_id": db["kms_key_id"],
                                         "db_name": db["db_name"], "username": db["username"]}
    assert "prevent_destroy" not in stamp.get("lifecycle", {})  # not a stateful resource: the guard ignores it
    assert instance_checks.final_snapshot(_ctx(s, doc, tmp_path)).status is Status.PASS


def test_no_stamp_where_no_final_snapshot_is_taken(docs: dict, tmp_path: Path) -> None:
    s = settings.load("dev", **GP3)
    doc = docs[s.stack_id]
    assert "final_snapshot_identifier" not in _db(doc) and _db(doc)["skip_final_snapshot"] is True
    assert "terraform_data" not in doc["resource"]
    assert instance_checks.final_snapshot(_ctx(s, doc, tmp_path)).status is Status.PASS


@pytest.mark.parametrize("break_it, why", [
    (lambda d: _db(d).update(final_snapshot_identifier="qualisys-db-prod-final"), "a fixed name"),
    (lambda d: d["resource"]["terraform_data"]["final_snapshot_stamp"].pop("lifecycle"), "ignore changes"),
    (lambda d: d["resource"]["terraform_data"].pop("final_snapshot_stamp"), "missing"),
    (lambda d: d["resource"]["terraform_data"]["final_snapshot_stamp"].update(input="x"), "timestamp()"),
    (lambda d: d["resource"]["terraform_data"]["final_snapshot_stamp"]["triggers_replace"].pop("identifier"),
     "triggers_replace"),
    (lambda d: _db(d).update(copy_tags_to_snapshot=False), "copy_tags_to_snapshot"),
])
def test_final_snapshot_check_fails_on_a_name_that_can_collide(docs: dict, tmp_path: Path, break_it: Any,
                                                               why: str) -> None:
    s = settings.load("prod")
    doc = copy.deepcopy(docs[s.stack_id])
    break_it(doc)
    result = instance_checks.final_snapshot(_ctx(s, doc, tmp_path))
    assert result.status is Status.FAIL and why in result.detail, result


def test_gp3_performance_reaches_the_instance_only_when_set(docs: dict, tmp_path: Path) -> None:
    s = settings.load("dev", **GP3)
    doc = docs[s.stack_id]
    assert (_db(doc)["iops"], _db(doc)["storage_throughput"]) == (16000, 1000)
    result = instance_checks.storage(_ctx(s, doc, tmp_path))
    assert result.status is Status.PASS and "16000 IOPS" in result.actual and "1000 MiB/s" in result.actual
    prod = docs[settings.load("prod").stack_id]
    assert "iops" not in _db(prod) and "storage_throughput" not in _db(prod)  # the baseline: not passed
    drifted = copy.deepcopy(doc)
    _db(drifted)["iops"] = 12000
    assert instance_checks.storage(_ctx(s, drifted, tmp_path)).status is Status.FAIL
    _db(drifted).pop("iops")
    _db(drifted).pop("storage_throughput")
    assert instance_checks.storage(_ctx(s, drifted, tmp_path)).status is Status.FAIL


# ----- on the emulator ------------------------------------------------------------------------------

KEPT = ("identifier", "engine", "engine_version", "instance_class", "allocated_storage", "storage_type",
        "db_name", "username", "manage_master_user_password", "backup_retention_period", "copy_tags_to_snapshot",
        "skip_final_snapshot", "final_snapshot_identifier")
"""The instance's arguments the small stack keeps: identity, size, and everything about the final snapshot."""


def _small_stack(doc: dict, identifier: str, db_name: str | None = None) -> dict:
    """prod's instance and stamp as synthesized, without the resources around them (keys, network, logs)."""
    db = {k: v for k, v in _db(doc).items() if k in KEPT}
    db["identifier"], db["db_name"] = identifier, db_name or db["db_name"]
    db["final_snapshot_identifier"] = db["final_snapshot_identifier"].replace(_db(doc)["identifier"], identifier)
    stamp = copy.deepcopy(doc["resource"]["terraform_data"]["final_snapshot_stamp"])
    stamp.pop("//", None)
    stamp["triggers_replace"] = {**stamp["triggers_replace"], "identifier": identifier, "kms_key_id": "alias/test",
                                 "db_name": db["db_name"]}
    return {"terraform": {"required_providers": doc["terraform"]["required_providers"]},
            "provider": doc["provider"],
            "resource": {"aws_db_instance": {"db": db}, "terraform_data": {"final_snapshot_stamp": stamp}}}


class _Tf:
    def __init__(self, s: settings.Settings, directory: Path):
        self.s, self.dir = s, directory
        directory.mkdir(parents=True, exist_ok=True)

    def write(self, stack: dict) -> None:
        (self.dir / "main.tf.json").write_text(json.dumps(stack, indent=1))

    def __call__(self, *args: str) -> terraform.Result:
        flags = ["-no-color"] + (["-input=false"] if args[0] in ("init", "import", "plan", "apply", "destroy") else [])
        return terraform.run([args[0], *flags, *args[1:]], self.dir, self.s.provider_mirror,
                             env=apply.tf_env(self.s))

    def must(self, *args: str) -> str:
        result = self(*args)
        assert result.ok, (args, result.stdout[-3000:], result.stderr[-3000:])
        return result.stdout

    def guard(self, *plan_args: str) -> tuple[list, str]:
        """The plan guard's checks over a real plan, and the plan's JSON."""
        self.must("plan", "-out=guard.plan", *plan_args)
        plan = self.must("show", "-json", "guard.plan")
        return plan_guard.analyse(plan), plan


def _lifetime_stack(doc: dict, identifier: str) -> dict:
    """The stamp as synthesized for prod, and a stand-in holding the instance's final snapshot name as
    synthesized (Terraform's built-in terraform_data only: no provider, so each step takes a second)."""
    stamp = copy.deepcopy(doc["resource"]["terraform_data"]["final_snapshot_stamp"])
    stamp.pop("//", None)
    stamp["triggers_replace"] = {**stamp["triggers_replace"], "identifier": identifier, "kms_key_id": "k"}
    name = _db(doc)["final_snapshot_identifier"].replace(_db(doc)["identifier"], identifier)
    return {"resource": {"terraform_data": {"final_snapshot_stamp": stamp, "instance": {"input": name}}},
            "output": {"name": {"value": "${terraform_data.instance.output}"}}}


def test_each_instance_lifetime_gets_its_own_final_snapshot_name(docs: dict, tmp_path: Path) -> None:
    """destroy -> recreate -> destroy: two lifetimes, two names; a plan between them shows nothing."""
    s = settings.load("prod")
    tf = _Tf(s, tmp_path)
    tf.write(_lifetime_stack(docs[s.stack_id], s.instance_identifier))
    tf.must("init")
    names = []
    for _lifetime in range(2):
        tf.must("apply", "-auto-approve")
        assert tf("plan", "-detailed-exitcode").returncode == apply.NO_CHANGES  # stable across plans
        names.append(json.loads(tf.must("output", "-json", "name")))
        time.sleep(1.1)  # the stamp has one-second resolution
        tf.must("destroy", "-auto-approve")
    assert names[0] != names[1], names
    assert all(re.fullmatch(rf"{s.instance_identifier}-final-\d{{14}}", n) for n in names), names
    # A change to an input the stamp follows (here the identifier, part of the name) renews the stamp.
    tf.must("apply", "-auto-approve")
    tf.write(_lifetime_stack(docs[s.stack_id], s.instance_identifier + "-renamed"))
    plan = tf.must("plan")
    assert "terraform_data.final_snapshot_stamp must be replaced" in plan, plan


def _planned(plan_json: str, address: str) -> dict:
    return next(rc["change"] for rc in json.loads(plan_json)["resource_changes"] if rc["address"] == address)


@pytest.mark.slow
def test_plan_guard_still_refuses_replacing_the_instance_and_lets_the_stamp_renew(
        fresh_emulator: str, synth_in_process: Any, tmp_path: Path) -> None:
    """The real provider's plans over prod's instance and stamp, against the emulator: the final snapshot
    name is known at plan time, the stamp's replacement only updates the instance in place, and a change
    that replaces the instance (a new db_name) replaces the stamp with it and is still refused. The
    instance is made with boto3 and imported (the provider's create and modify waiters would cost 80 s
    each; test_apply_envs applies prod in full and finds no drift)."""
    started = time.monotonic()
    s = settings.load("prod", aws_endpoint_url=fresh_emulator)
    doc = synth_in_process([s])[s.stack_id]
    ident = "snapshots-guard"
    stack = _small_stack(doc, ident)
    db = stack["resource"]["aws_db_instance"]["db"]
    from tenantdb.aws import Aws

    Aws(s).client("rds").create_db_instance(
        DBInstanceIdentifier=ident, Engine="postgres", EngineVersion=db["engine_version"],
        DBInstanceClass=db["instance_class"], AllocatedStorage=db["allocated_storage"],
        StorageType=db["storage_type"], DBName=db["db_name"], MasterUsername=db["username"],
        ManageMasterUserPassword=True, BackupRetentionPeriod=db["backup_retention_period"], CopyTagsToSnapshot=True)
    tf = _Tf(s, tmp_path)
    tf.write(stack)
    tf.must("init")
    tf.must("import", "aws_db_instance.db", ident)
    tf.must("apply", "-auto-approve", "-target=terraform_data.final_snapshot_stamp")

    checks, plan = tf.guard()
    assert Status.FAIL not in {c.status for c in checks}, checks
    name = _planned(plan, "aws_db_instance.db")["after"]["final_snapshot_identifier"]
    assert re.fullmatch(rf"{ident}-final-\d{{14}}", name), name  # known at plan time: what a delete would use

    tf.write(_small_stack(doc, ident, db_name="renamed_master"))  # db_name: the provider replaces the instance
    found = {(c.id, c.title): c.status for c in tf.guard()[0]}
    assert found[("REPLACE", "aws_db_instance.db")] is Status.FAIL, found
    assert found[("REPLACE", "terraform_data.final_snapshot_stamp")] is Status.PASS, found

    tf.write(stack)
    checks, plan = tf.guard("-replace=terraform_data.final_snapshot_stamp")
    found = {(c.id, c.title): c.status for c in checks}
    assert found[("CHANGE", "aws_db_instance.db")] is Status.PASS and Status.FAIL not in found.values(), found
    assert _planned(plan, "aws_db_instance.db")["actions"] == ["update"]
    print(f"plan guard over the stamp on the emulator: {time.monotonic() - started:.0f} s")
