"""The plan guard as a pure function over `terraform show -json` documents.

The documents follow Terraform's JSON plan format (format_version 1.2, as
Terraform 1.11 writes it); tests/test_plan.py runs the same guard on real
plans made by Terraform against the emulator.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tenantdb.infra import plan_guard
from tenantdb.report import Report, Status

STACK = "qualisys-db-dev"


def rc(address: str, actions: list[str], before: dict | None = None, after: dict | None = None,
       replace_paths: list | None = None, reason: str | None = None, mode: str = "managed",
       **extra: Any) -> dict[str, Any]:
    rtype, name = address.split(".", 1)
    change: dict[str, Any] = {"actions": actions, "before": before, "after": after,
                              "after_unknown": extra.pop("after_unknown", {}),
                              "before_sensitive": extra.pop("before_sensitive", {}),
                              "after_sensitive": extra.pop("after_sensitive", {})}
    if replace_paths is not None:
        change["replace_paths"] = replace_paths
    out = {"address": address, "mode": mode, "type": rtype, "name": name,
           "provider_name": "registry.terraform.io/hashicorp/aws", "change": change, **extra}
    if reason:
        out["action_reason"] = reason
    return out


def plan(*changes: dict[str, Any]) -> dict[str, Any]:
    return {"format_version": "1.2", "terraform_version": "1.11.4", "resource_changes": list(changes)}


def by_id(checks, ident: str):
    return [c for c in checks if c.id == ident]


def test_no_changes_is_one_pass_saying_so():
    checks = plan_guard.analyse(plan(rc("aws_db_instance.db", ["no-op"], {"a": 1}, {"a": 1})), STACK)
    assert [(c.id, c.status, c.actual) for c in checks] == [("PLAN", Status.PASS, "no changes")]


def test_instance_replacement_fails_naming_address_and_forcing_attribute():
    doc = plan(rc("aws_db_instance.db", ["delete", "create"],
                  {"db_name": "qualisys_master", "identifier": "qualisys-db-dev"},
                  {"db_name": "qualisys_other", "identifier": "qualisys-db-dev"},
                  replace_paths=[["db_name"]], reason="replace_because_cannot_update"))
    checks = plan_guard.analyse(doc, STACK)
    summary, guard = checks
    assert summary.actual == "0 to add, 0 to change, 1 to replace, 0 to destroy"
    assert (guard.id, guard.status, guard.title) == ("REPLACE", Status.FAIL, f"{STACK}:aws_db_instance.db")
    assert 'db_name ("qualisys_master" -> "qualisys_other")' in guard.detail
    assert "--allow-replace aws_db_instance.db" in guard.detail
    assert not Report("dev", "plan", checks).ok


@pytest.mark.parametrize("allowed", ["aws_db_instance.db", f"{STACK}:aws_db_instance.db"])
def test_allowed_replacement_passes_and_says_it_was_allowed(allowed):
    doc = plan(rc("aws_db_instance.db", ["delete", "create"], {"db_name": "a"}, {"db_name": "b"},
                  replace_paths=[["db_name"]], reason="replace_because_cannot_update"))
    checks = plan_guard.analyse(doc, STACK, [allowed])
    assert Report("dev", "plan", checks).ok
    assert "allowed by --allow-replace" in checks[1].detail and "db_name" in checks[1].detail


def test_allowance_for_another_address_does_not_cover_the_instance():
    doc = plan(rc("aws_db_instance.db", ["delete", "create"], {"db_name": "a"}, {"db_name": "b"},
                  replace_paths=[["db_name"]]))
    checks = plan_guard.analyse(doc, STACK, ["aws_kms_key.rds", "other-stack:aws_db_instance.db"])
    assert by_id(checks, "REPLACE")[0].status is Status.FAIL


@pytest.mark.parametrize("address", ["aws_kms_key.rds", "aws_kms_key.secrets", "aws_secretsmanager_secret.connection",
                                     "aws_db_parameter_group.postgres", "aws_db_instance.db"])
def test_destroying_any_guarded_type_fails(address):
    doc = plan(rc(address, ["delete"], {"id": "x"}, None, reason="delete_because_no_resource_config"))
    (check,) = by_id(plan_guard.analyse(doc, STACK), "DESTROY")
    assert check.status is Status.FAIL
    assert "no longer in the configuration" in check.detail


def test_create_before_destroy_order_is_a_replacement_too():
    doc = plan(rc("aws_secretsmanager_secret.connection", ["create", "delete"], {"name": "a"}, {"name": "b"},
                  replace_paths=[["name"]]))
    (check,) = by_id(plan_guard.analyse(doc, STACK), "REPLACE")
    assert check.status is Status.FAIL and 'name ("a" -> "b")' in check.detail


def test_tainted_replacement_without_replace_paths_names_the_reason():
    doc = plan(rc("aws_kms_key.rds", ["delete", "create"], {"id": "k"}, {"id": None},
                  reason="replace_because_tainted", after_unknown={"id": True}))
    (check,) = by_id(plan_guard.analyse(doc, STACK), "REPLACE")
    assert check.status is Status.FAIL and "tainted" in check.detail


def test_unguarded_replacements_and_destructions_pass_and_are_listed():
    doc = plan(rc("aws_kms_alias.rds", ["delete", "create"], {"name": "a"}, {"name": "b"}, replace_paths=[["name"]]),
               rc("aws_cloudwatch_log_group.upgrade", ["delete"], {"name": "g"}, None),
               rc("aws_iam_role.monitoring", ["create"], None, {"name": "r"}))
    checks = plan_guard.analyse(doc, STACK)
    assert Report("dev", "plan", checks).ok
    assert checks[0].actual == "1 to add, 0 to change, 1 to replace, 1 to destroy"
    assert {(c.id, c.title) for c in checks[1:]} == {
        ("REPLACE", f"{STACK}:aws_kms_alias.rds"), ("DESTROY", f"{STACK}:aws_cloudwatch_log_group.upgrade"),
        ("ADD", f"{STACK}:aws_iam_role.monitoring")}


def test_in_place_update_lists_changed_attributes_without_tags_all():
    doc = plan(rc("aws_db_instance.db", ["update"],
                  {"backup_window": "03:00-04:00", "tags_all": {"a": "1"}, "port": 5432},
                  {"backup_window": "05:00-06:00", "tags_all": {"a": "2"}, "port": 5432}))
    checks = plan_guard.analyse(doc, STACK)
    assert Report("dev", "plan", checks).ok
    (change,) = by_id(checks, "CHANGE")
    assert change.actual == "update in place: backup_window"
    assert not by_id(checks, "REBOOT")


def params(**values: tuple[str, str]) -> list[dict[str, str]]:
    return [{"name": n.replace("__", "."), "value": v, "apply_method": m} for n, (v, m) in values.items()]


def test_static_parameter_change_is_a_pass_with_a_reboot_warning():
    before = {"parameter": params(max_connections=("200", "pending-reboot"), work_mem=("65536", "immediate"))}
    after = {"parameter": params(max_connections=("250", "pending-reboot"), work_mem=("65536", "immediate"))}
    checks = plan_guard.analyse(plan(rc("aws_db_parameter_group.postgres", ["update"], before, after)), STACK)
    assert Report("dev", "plan", checks).ok
    (reboot,) = by_id(checks, "REBOOT")
    assert reboot.status is Status.PASS
    assert reboot.actual.startswith("WARN") and reboot.detail.startswith("WARN")
    assert "max_connections 200 -> 250" in reboot.detail and "pending-reboot" in reboot.detail


def test_dynamic_parameter_change_needs_no_reboot():
    before = {"parameter": params(work_mem=("65536", "immediate"))}
    after = {"parameter": params(work_mem=("131072", "immediate"))}
    checks = plan_guard.analyse(plan(rc("aws_db_parameter_group.postgres", ["update"], before, after)), STACK)
    assert by_id(checks, "CHANGE") and not by_id(checks, "REBOOT")


def test_added_static_parameter_needs_a_reboot():
    before = {"parameter": []}
    after = {"parameter": params(shared_preload_libraries=("pg_stat_statements", "pending-reboot"))}
    checks = plan_guard.analyse(plan(rc("aws_db_parameter_group.postgres", ["update"], before, after)), STACK)
    (reboot,) = by_id(checks, "REBOOT")
    assert "shared_preload_libraries (default) -> pg_stat_statements" in reboot.detail


def test_switching_the_instance_to_another_parameter_group_warns_of_a_reboot():
    doc = plan(rc("aws_db_instance.db", ["update"], {"parameter_group_name": "a"}, {"parameter_group_name": "b"}))
    (reboot,) = by_id(plan_guard.analyse(doc, STACK), "REBOOT")
    assert "parameter group a -> b" in reboot.detail


def test_sensitive_and_unknown_values_are_not_shown():
    doc = plan(rc("aws_db_instance.db", ["delete", "create"], {"username": "old"}, {"username": "new"},
                  replace_paths=[["username"]], before_sensitive={"username": True},
                  after_sensitive={"username": True}),
               rc("aws_kms_key.rds", ["delete", "create"], {"arn": "old"}, {"arn": None},
                  replace_paths=[["arn"]], after_unknown={"arn": True}))
    checks = plan_guard.analyse(doc, STACK)
    db = [c for c in checks if c.title.endswith("aws_db_instance.db")][0]
    assert "username ((sensitive) -> (sensitive))" in db.detail
    assert '"old"' not in db.detail and '"new"' not in db.detail
    key = [c for c in checks if c.title.endswith("aws_kms_key.rds")][0]
    assert '(known after apply)' in key.detail


def test_nested_replace_path_is_written_as_a_path():
    doc = plan(rc("aws_db_instance.db", ["delete", "create"], {"restore": [{"source": "a"}]},
                  {"restore": [{"source": "b"}]}, replace_paths=[["restore", 0, "source"]]))
    (check,) = by_id(plan_guard.analyse(doc, STACK), "REPLACE")
    assert 'restore[0].source ("a" -> "b")' in check.detail


def test_data_source_reads_and_deposed_objects():
    doc = plan(rc("aws_ssm_parameter.subnet_group", ["read"], None, {"value": "x"}, mode="data"),
               rc("aws_db_instance.db", ["delete"], {"id": "old"}, None, deposed="00000001"))
    checks = plan_guard.analyse(doc, STACK)
    (check,) = by_id(checks, "DESTROY")
    assert check.status is Status.FAIL and "deposed 00000001" in check.title


def test_forget_is_listed_not_guarded():
    checks = plan_guard.analyse(plan(rc("aws_db_instance.db", ["forget"], {"id": "x"}, None)), STACK)
    assert Report("dev", "plan", checks).ok and by_id(checks, "FORGET")


@pytest.mark.parametrize("doc", ["not json", json.dumps({"format_version": "0.1"}), json.dumps({}),
                                 json.dumps(plan(rc("aws_db_instance.db", ["explode"], {}, {})))])
def test_unreadable_plan_is_an_error_never_a_pass(doc):
    checks = plan_guard.analyse(doc, STACK)
    assert [c.status for c in checks] == [Status.ERROR]


def test_unused_allowances_are_reported():
    found = plan_guard.read(plan(rc("aws_db_instance.db", ["delete", "create"], {}, {}, replace_paths=[])), STACK)
    assert plan_guard.unused_allowances(found, ["aws_db_instance.db", "aws_kms_key.typo"]) == ["aws_kms_key.typo"]
