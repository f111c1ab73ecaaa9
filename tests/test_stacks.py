"""The synthesized stacks, per environment: what differs, what is common, and
that real Terraform with the real AWS provider accepts every stack.

Expected values come from the settings; the one test that restates Story 0.4's
table does so on purpose (it is the specification the settings must carry).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tenantdb import settings as settings_mod
from tenantdb.infra import check
from tenantdb.infra import terraform

ENVS = settings_mod.ENVIRONMENTS
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _settings(env: str) -> settings_mod.Settings:
    return settings_mod.load(env, None)


def _db(stack_json: dict, env: str) -> tuple[str, dict[str, Any]]:
    return stack_json[_settings(env).stack_id]


def _instance(doc: dict[str, Any]) -> dict[str, Any]:
    (body,) = doc["resource"]["aws_db_instance"].values()
    return body


def test_synth_writes_every_stack(synth_out: dict[str, Path]) -> None:
    expected = {_settings(e).stack_id for e in ENVS} | {_settings("local").network_stack_id}
    assert set(synth_out) == expected
    assert {"qualisys-db-local", "qualisys-db-dev", "qualisys-db-staging", "qualisys-db-prod"} <= set(synth_out)


@pytest.mark.parametrize("env", ENVS)
def test_instance_follows_environment_settings(env: str, stack_json: dict, cdktf_testing: Any) -> None:
    s = _settings(env)
    raw, doc = _db(stack_json, env)
    expected = {
        "identifier": s.instance_identifier,
        "engine": "postgres",
        "engine_version": str(s.engine_major),
        "instance_class": s.instance_class,
        "multi_az": s.multi_az,
        "storage_type": s.storage_type,
        "allocated_storage": s.allocated_storage_gb,
        "max_allocated_storage": s.max_allocated_storage_gb,
        "deletion_protection": s.deletion_protection,
        "skip_final_snapshot": not s.final_snapshot,
        "backup_retention_period": s.backup_retention_days,
        "backup_window": s.backup_window,
        "maintenance_window": s.maintenance_window,
        "db_name": s.db_name,
        "username": s.master_username,
        "port": s.port,
    }
    assert cdktf_testing.to_have_resource_with_properties(raw, "aws_db_instance", expected), \
        json.dumps(_instance(doc), indent=1)
    # The matcher discriminates: the other Multi-AZ value does not match.
    assert not cdktf_testing.to_have_resource_with_properties(raw, "aws_db_instance",
                                                              {**expected, "multi_az": not s.multi_az})
    if s.final_snapshot:
        assert _instance(doc)["final_snapshot_identifier"] == (
            f"{s.instance_identifier}-final-${{terraform_data.final_snapshot_stamp.output}}")
    else:
        assert "final_snapshot_identifier" not in _instance(doc)


def test_story_sizing_table(stack_json: dict) -> None:
    """Story 0.4's instance sizing and task 2.4, restated as the spec."""
    got = {env: _instance(_db(stack_json, env)[1]) for env in ENVS}
    for env in ("local", "dev", "staging"):
        assert (got[env]["instance_class"], got[env]["multi_az"], got[env]["allocated_storage"]) == \
            ("db.t3.medium", False, 20)
        assert got[env]["deletion_protection"] is False and got[env]["skip_final_snapshot"] is True
    assert (got["prod"]["instance_class"], got["prod"]["multi_az"], got["prod"]["allocated_storage"]) == \
        ("db.r5.large", True, 100)
    assert got["prod"]["deletion_protection"] is True and got["prod"]["skip_final_snapshot"] is False
    assert got["dev"]["max_allocated_storage"] == 100
    assert got["prod"]["max_allocated_storage"] >= got["prod"]["allocated_storage"]


@pytest.mark.parametrize("env", ENVS)
def test_backend_per_environment(env: str, stack_json: dict) -> None:
    s = _settings(env)
    backend = _db(stack_json, env)[1]["terraform"]["backend"]
    if env == "local":
        assert list(backend) == ["local"]
        path = Path(backend["local"]["path"])
        assert path.is_absolute() and path.name == f"{s.stack_id}.tfstate"
        assert path.parent.parent.name == Path(s.local_state_dir).name
    else:
        assert list(backend) == ["s3"]
        assert backend["s3"] == {"bucket": s.state_bucket, "key": s.state_key, "region": s.region,
                                 "encrypt": True, "use_lockfile": True}


@pytest.mark.parametrize("env", ENVS)
def test_provider_endpoints_only_for_the_emulator(env: str, stack_json: dict) -> None:
    s = _settings(env)
    (aws,) = _db(stack_json, env)[1]["provider"]["aws"]
    assert aws["region"] == s.region
    assert aws["default_tags"][0]["tags"]["Environment"] == env
    if s.aws_endpoint_url:
        (endpoints,) = aws["endpoints"]
        assert set(endpoints.values()) == {s.aws_endpoint_url}
        assert {"rds", "kms", "iam", "secretsmanager", "ssm", "sts", "logs", "ec2"} <= set(endpoints)
        assert aws["skip_credentials_validation"] is True
        # The account id is requested (same-account security group references read back plainly).
        assert "skip_requesting_account_id" not in aws
    else:
        assert "endpoints" not in aws and "skip_credentials_validation" not in aws


@pytest.mark.parametrize("env", ENVS)
def test_common_instance_security(env: str, stack_json: dict, cdktf_testing: Any) -> None:
    s = _settings(env)
    raw, doc = _db(stack_json, env)
    i = _instance(doc)
    assert cdktf_testing.to_have_resource_with_properties(raw, "aws_db_instance", {
        "publicly_accessible": False,
        "storage_encrypted": True,
        "manage_master_user_password": True,
        "performance_insights_enabled": True,
        "performance_insights_retention_period": s.performance_insights_retention_days,
        "monitoring_interval": s.monitoring_interval_s,
        "enabled_cloudwatch_logs_exports": list(s.log_exports),
        "ca_cert_identifier": s.ca_cert_identifier,
        "iam_database_authentication_enabled": s.iam_database_authentication,
        "auto_minor_version_upgrade": s.auto_minor_version_upgrade,
        "copy_tags_to_snapshot": s.copy_tags_to_snapshot,
        "engine_lifecycle_support": s.engine_lifecycle_support,
    })
    # Storage and PI under the RDS CMK, the master secret under the secrets CMK.
    aliases = {a["name"]: a["target_key_id"] for a in doc["resource"]["aws_kms_alias"].values()}
    rds_key = aliases[s.kms_alias_rds].replace(".key_id}", ".arn}")
    secrets_key = aliases[s.kms_alias_secrets].replace(".key_id}", ".arn}")
    assert rds_key != secrets_key
    assert i["kms_key_id"] == i["performance_insights_kms_key_id"] == rds_key
    assert i["master_user_secret_kms_key_id"] == secrets_key
    assert i["parameter_group_name"] == "${aws_db_parameter_group.postgres.name}"
    assert i["monitoring_role_arn"] == "${aws_iam_role.monitoring.arn}"
    assert sorted(i["depends_on"]) == sorted(f"aws_cloudwatch_log_group.rds_{log}" for log in s.log_exports)


@pytest.mark.parametrize("env", ENVS)
def test_parameter_group_has_every_parameter(env: str, stack_json: dict) -> None:
    s = _settings(env)
    group = _db(stack_json, env)[1]["resource"]["aws_db_parameter_group"]["postgres"]
    assert (group["name"], group["family"]) == (s.parameter_group_name, s.parameter_group_family)
    got = {p["name"]: (p["value"], p["apply_method"]) for p in group["parameter"]}
    assert got == s.db_parameters
    # AC6 in the story's words: 200 connections, shared_buffers a quarter of memory (8 kB pages).
    assert got["max_connections"][0] == "200"
    assert got["shared_buffers"] == ("{DBInstanceClassMemory/32768}", "pending-reboot")


@pytest.mark.parametrize("env", ENVS)
def test_kms_keys_rotate_with_explicit_policies(env: str, stack_json: dict) -> None:
    s = _settings(env)
    doc = _db(stack_json, env)[1]
    keys = doc["resource"]["aws_kms_key"]
    assert set(keys) == {"rds", "secrets", "alarms"}
    policies = doc["data"]["aws_iam_policy_document"]
    for name, key in keys.items():
        assert key["enable_key_rotation"] is True
        assert key["deletion_window_in_days"] == s.kms_deletion_window_days
        statements = policies[f"{name}_key_policy"]["statement"]
        principals = [(p["type"], ident) for st in statements for p in st["principals"] for ident in p["identifiers"]]
        assert all(ident != "*" for _, ident in principals)
        assert all(ident.endswith(":root") for t, ident in principals if t == "AWS")
        use = next(st for st in statements if st["sid"] == "UseThroughServices")
        via = next(c for c in use["condition"] if c["variable"] == "kms:ViaService")
        service = {"rds": "rds", "secrets": "secretsmanager", "alarms": "sns"}[name]
        assert via["values"] == [f"{service}.{s.region}.amazonaws.com"]
        assert "kms:Decrypt" not in next(st for st in statements if st["sid"] == "KeyAdministration")["actions"]
    logs = next(st for st in policies["rds_key_policy"]["statement"] if st["sid"] == "CloudWatchLogs")
    assert logs["principals"] == [{"type": "Service", "identifiers": [f"logs.{s.region}.amazonaws.com"]}]
    assert [v.rsplit("log-group:", 1)[1] for v in logs["condition"][0]["values"]] == list(s.log_group_names)


@pytest.mark.parametrize("env", ENVS)
def test_log_groups_encrypted_and_retained(env: str, stack_json: dict) -> None:
    s = _settings(env)
    groups = _db(stack_json, env)[1]["resource"]["aws_cloudwatch_log_group"]
    assert sorted(g["name"] for g in groups.values()) == sorted(s.log_group_names)
    for g in groups.values():
        assert g["kms_key_id"] == "${aws_kms_key.rds.arn}"
        assert g["retention_in_days"] == s.log_retention_days


@pytest.mark.parametrize("env", ENVS)
def test_monitoring_role(env: str, stack_json: dict) -> None:
    doc = _db(stack_json, env)[1]
    role = doc["resource"]["aws_iam_role"]["monitoring"]
    assert role["name"] == _settings(env).monitoring_role_name
    trust = doc["data"]["aws_iam_policy_document"]["monitoring_trust"]["statement"]
    assert trust[0]["principals"] == [{"type": "Service", "identifiers": ["monitoring.rds.amazonaws.com"]}]
    assert trust[0]["actions"] == ["sts:AssumeRole"]
    attach = doc["resource"]["aws_iam_role_policy_attachment"]["monitoring"]
    assert attach["role"] == "${aws_iam_role.monitoring.name}"
    assert attach["policy_arn"].endswith(":iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole")


@pytest.mark.parametrize("env", ENVS)
def test_secrets_and_irsa_policy_scope(env: str, stack_json: dict) -> None:
    s = _settings(env)
    doc = _db(stack_json, env)[1]
    secrets = {b["name"]: b for b in doc["resource"]["aws_secretsmanager_secret"].values()}
    assert set(secrets) == {s.connection_secret_name, s.migrator_secret_name}
    for secret in secrets.values():
        assert secret["kms_key_id"] == "${aws_kms_key.secrets.arn}"
        assert secret["recovery_window_in_days"] == s.secret_recovery_window_days
    policy = doc["resource"]["aws_iam_policy"]["connection_read"]
    assert policy["name"] == s.irsa_policy_name
    statements = doc["data"]["aws_iam_policy_document"]["connection_read"]["statement"]
    read, decrypt = statements
    assert sorted(read["actions"]) == ["secretsmanager:DescribeSecret", "secretsmanager:GetSecretValue"]
    assert read["resources"] == ["${aws_secretsmanager_secret.connection.arn}"]
    assert decrypt["actions"] == ["kms:Decrypt"] and decrypt["resources"] == ["${aws_kms_key.secrets.arn}"]
    assert decrypt["condition"] == [{"test": "StringEquals", "variable": "kms:ViaService",
                                     "values": [f"secretsmanager.{s.region}.amazonaws.com"]}]


@pytest.mark.parametrize("env", ENVS)
def test_network_comes_from_ssm_not_ids(env: str, stack_json: dict, cdktf_testing: Any) -> None:
    s = _settings(env)
    raw, doc = _db(stack_json, env)
    assert cdktf_testing.to_have_data_source_with_properties(raw, "aws_ssm_parameter",
                                                             {"name": s.ssm_db_subnet_group_param})
    assert cdktf_testing.to_have_data_source_with_properties(raw, "aws_ssm_parameter",
                                                             {"name": s.ssm_security_group_param})
    i = _instance(doc)
    assert i["db_subnet_group_name"] == "${data.aws_ssm_parameter.db_subnet_group.insecure_value}"
    assert i["vpc_security_group_ids"] == ["${data.aws_ssm_parameter.rds_security_group.insecure_value}"]
    assert '"sg-' not in raw and '"subnet-' not in raw and '"vpc-' not in raw
    for rtype in ("aws_vpc", "aws_subnet", "aws_db_subnet_group"):
        assert rtype not in doc["resource"], f"the database stack must not own {rtype}"
    # Its only security group is the rotation function's (Story 0.4 task 6.3); the RDS group is looked up.
    assert list(doc["resource"]["aws_security_group"]) == ["rotation"]


def test_outputs(stack_json: dict) -> None:
    from tenantdb.infra.check import REQUIRED_OUTPUTS
    for env in ENVS:
        outputs = _db(stack_json, env)[1]["output"]
        assert set(outputs) == set(REQUIRED_OUTPUTS)
        assert outputs["master_secret_arn"]["value"] == "${aws_db_instance.db.master_user_secret[0].secret_arn}"


def test_network_standin(stack_json: dict) -> None:
    s = _settings("local")
    raw, doc = stack_json[s.network_stack_id]
    r = doc["resource"]
    (vpc,) = r["aws_vpc"].values()
    subnets = list(r["aws_subnet"].values())
    assert len({sn["availability_zone"] for sn in subnets}) == 2
    (sg,) = r["aws_security_group"].values()
    # A rule resource, not inline rules: the database stack adds the rotation function's rule.
    assert "ingress" not in sg and "egress" not in sg
    (rule,) = r["aws_vpc_security_group_ingress_rule"].values()
    assert (rule["from_port"], rule["to_port"], rule["ip_protocol"]) == (s.port, s.port, "tcp")
    assert rule["cidr_ipv4"] == "${aws_vpc.standin.cidr_block}"
    assert rule["security_group_id"] == "${aws_security_group.rds.id}"
    params = {p["name"]: p["value"] for p in r["aws_ssm_parameter"].values()}
    assert params == {s.ssm_db_subnet_group_param: "${aws_db_subnet_group.db.name}",
                      s.ssm_security_group_param: "${aws_security_group.rds.id}"}
    assert doc["terraform"]["backend"]["local"]["path"].endswith(f"/{s.network_stack_id}.tfstate")


def test_emulator_overlay_for_dev(synth_in_process: Any, tmp_path: Path) -> None:
    """dev pointed at an emulator: the stand-in is synthesized and the S3 state lives in the emulator."""
    overlay = tmp_path / "dev-emulator.toml"
    overlay.write_text('[dev]\naws_endpoint_url = "http://127.0.0.1:4999"\n')
    s = settings_mod.load("dev", overlay)
    docs = synth_in_process([s])
    assert set(docs) == {s.stack_id, s.network_stack_id}
    for sid, doc in docs.items():
        s3 = doc["terraform"]["backend"]["s3"]
        assert s3["endpoints"] == {"s3": s.aws_endpoint_url, "sts": s.aws_endpoint_url, "iam": s.aws_endpoint_url}
        assert s3["use_path_style"] is True and s3["use_lockfile"] is True and s3["encrypt"] is True
        assert s3["key"] == (s.state_key if sid == s.stack_id else f"tenantdb/dev/{s.network_stack_id}.tfstate")
    # The database stack itself is exactly dev's (only provider/backend endpoints differ).
    assert _instance(docs[s.stack_id])["instance_class"] == s.instance_class


@pytest.mark.parametrize("stack", ["qualisys-db-local", "qualisys-db-dev", "qualisys-db-staging",
                                   "qualisys-db-prod", "qualisys-network-local"])
def test_terraform_validate(stack: str, synth_out: dict[str, Path]) -> None:
    """Real Terraform, real aws provider from the offline mirror, the project's CLI config."""
    d = synth_out[stack]
    mirror = _settings("dev").provider_mirror
    init = check.init_offline(d, mirror)
    assert init.ok, init.first_error()
    val = terraform.run(["validate", "-json", "-no-color"], d, mirror)
    result = json.loads(val.stdout)
    assert val.ok and result["valid"] is True, result["diagnostics"]
    assert result["error_count"] == 0


# ----- prevent_destroy and extensions (settings.prevent_destroy, settings.extensions) -----

def _protected(doc: dict) -> set[str]:
    return {f"{rtype}.{name}" for rtype, bodies in doc["resource"].items() for name, body in bodies.items()
            if (body.get("lifecycle") or {}).get("prevent_destroy") is True}


def _ctx(s: settings_mod.Settings, doc: dict, tmp_path: Path) -> Any:
    from tenantdb.infra.check.context import Ctx, baseline
    from tenantdb.infra.check.reader import Stack

    return Ctx(s, baseline(s), Stack(tmp_path, doc))


@pytest.mark.parametrize("env", ENVS)
def test_prevent_destroy_on_every_stateful_resource_of_prod_only(env: str, stack_json: dict) -> None:
    doc = _db(stack_json, env)[1]
    stateful = {f"aws_db_instance.{n}" for n in doc["resource"]["aws_db_instance"]} | \
        {f"aws_kms_key.{n}" for n in doc["resource"]["aws_kms_key"]} | \
        {f"aws_secretsmanager_secret.{n}" for n in doc["resource"]["aws_secretsmanager_secret"]} | \
        {f"aws_db_parameter_group.{n}" for n in doc["resource"]["aws_db_parameter_group"]}
    assert {"aws_db_instance.db", "aws_kms_key.rds", "aws_kms_key.secrets", "aws_db_parameter_group.postgres",
            "aws_secretsmanager_secret.connection", "aws_secretsmanager_secret.migrator"} <= stateful
    assert _protected(doc) == (stateful if env == "prod" else set())


def test_prevent_destroy_is_a_setting_and_check_holds_prod_to_it(synth_in_process: Any, tmp_path: Path) -> None:
    from tenantdb.infra.check import protection

    overlay = tmp_path / "protect.toml"
    overlay.write_text("[dev]\nprevent_destroy = true\n[prod]\nprevent_destroy = false\n")
    dev, prod = settings_mod.load("dev", overlay), settings_mod.load("prod", overlay)
    docs = synth_in_process([dev, prod])
    assert "aws_db_instance.db" in _protected(docs[dev.stack_id]) and _protected(docs[prod.stack_id]) == set()
    assert protection.prevent_destroy(_ctx(dev, docs[dev.stack_id], tmp_path)).status.name == "PASS"
    off = protection.prevent_destroy(_ctx(prod, docs[prod.stack_id], tmp_path))
    assert off.status.name == "FAIL" and "aws_db_instance.db" in off.actual and "prod must keep" in off.detail
    # The stock prod stack passes; an unprotected one where none is wanted passes too.
    stock = settings_mod.load("prod", None)
    assert protection.prevent_destroy(_ctx(stock, synth_in_process([stock])[stock.stack_id], tmp_path)) \
        .status.name == "PASS"


def test_extensions_rds_offers_pass_check_even_where_the_stand_in_lacks_them(stack_json: dict,
                                                                             tmp_path: Path) -> None:
    from tenantdb.infra.check import protection

    doc = _db(stack_json, "dev")[1]
    readme = settings_mod.load("dev", None, extensions=("uuid-ossp", "pgcrypto", "citext", "btree_gist", "vector"))
    ok = protection.extensions(_ctx(readme, doc, tmp_path))
    assert ok.status.name == "PASS" and "vector" in ok.expected
    # pg_cron works on RDS only once its library is preloaded: the stock parameter group does not.
    cron = settings_mod.load("dev", None, extensions=("pg_stat_statements", "pg_cron"))
    bad = protection.extensions(_ctx(cron, doc, tmp_path))
    assert bad.status.name == "FAIL" and "pg_cron: needs shared_preload_libraries" in bad.actual


@pytest.mark.parametrize("name", ["pgvector", "timescaledb"])
def test_an_extension_rds_does_not_offer_is_refused_in_one_line(name: str, tmp_path: Path) -> None:
    """The cdktf app (main.py, what `cdktf deploy` runs) and `tenantdb check` both refuse it: exit 2, one line."""
    overlay = tmp_path / "ext.toml"
    overlay.write_text(f'[staging]\nextensions = ["uuid-ossp", "{name}"]\n')
    env = {**os.environ, "TENANTDB_SETTINGS": str(overlay)}
    for argv in ([sys.executable, "main.py"], [sys.executable, "-m", "tenantdb.cli", "check", "--env", "staging"]):
        run = subprocess.run(argv, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120, env=env)
        assert run.returncode == 2, (argv, run.stdout, run.stderr)
        lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "staging: extensions=" in lines[0] and repr(name) in lines[0], run.stderr
