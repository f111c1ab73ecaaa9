"""Secret rotation (Story 0.4 task 6.3): the stack per environment, what the emulator leaves out, and
verify's rotation checks against the emulator (moto + fidelity layer, real boto3 calls).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest

from tenantdb import aws_reference, settings as settings_mod
from tenantdb.infra import terraform
from tenantdb.report import Status
from tenantdb.verify import aws_checks
from tenantdb.verify.context import Context
from datetime import UTC

REAL = ("dev", "staging", "prod")


def _doc(stack_json: dict, env: str) -> tuple[settings_mod.Settings, str, dict[str, Any]]:
    s = settings_mod.load(env, None)
    raw, doc = stack_json[s.stack_id]
    return s, raw, doc


@pytest.mark.parametrize("env", REAL)
def test_rotation_application_deployed_by_the_stack(env: str, stack_json: dict, cdktf_testing: Any) -> None:
    s, raw, doc = _doc(stack_json, env)
    assert cdktf_testing.to_have_resource_with_properties(
        raw, "aws_serverlessapplicationrepository_cloudformation_stack", {
            "name": s.rotation_function_name,
            "application_id": s.rotation_application_id,
            "semantic_version": s.rotation_application_version,
            "capabilities": ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"],
            "parameters": {
                "functionName": s.rotation_function_name,
                "endpoint": f"https://secretsmanager.{s.region}.amazonaws.com",
                "vpcSubnetIds": '${join(",", tolist(data.aws_db_subnet_group.rotation.subnet_ids))}',
                "vpcSecurityGroupIds": "${aws_security_group.rotation.id}",
                "kmsKeyArn": "${aws_kms_key.secrets.arn}",
            },
        })
    assert s.rotation_application_id.endswith("/SecretsManagerRDSPostgreSQLRotationSingleUser")
    # The subnets are the DB subnet group's, looked up by the name the network layer publishes in SSM.
    assert doc["data"]["aws_db_subnet_group"]["rotation"]["name"] == \
        "${data.aws_ssm_parameter.db_subnet_group.insecure_value}"


@pytest.mark.parametrize("env", REAL)
def test_both_secrets_rotate_every_90_days(env: str, stack_json: dict) -> None:
    s, _, doc = _doc(stack_json, env)
    rotations = doc["resource"]["aws_secretsmanager_secret_rotation"]
    function = '${aws_serverlessapplicationrepository_cloudformation_stack.rotation.outputs["RotationLambdaARN"]}'
    assert s.secret_rotation_days == 90
    assert {r["secret_id"] for r in rotations.values()} == \
        {"${aws_secretsmanager_secret.connection.arn}", "${aws_secretsmanager_secret.migrator.arn}"}
    for r in rotations.values():
        assert r["rotation_rules"] == {"automatically_after_days": s.secret_rotation_days}
        assert r["rotation_lambda_arn"] == function
        assert r["rotate_immediately"] is False  # empty until bootstrap: an immediate rotation would fail


@pytest.mark.parametrize("env", REAL)
def test_rotation_function_reaches_the_instance_and_secrets_manager(env: str, stack_json: dict) -> None:
    s, _, doc = _doc(stack_json, env)
    r = doc["resource"]
    sg = r["aws_security_group"]["rotation"]
    assert (sg["name"], sg["vpc_id"]) == (s.rotation_security_group_name, "${data.aws_db_subnet_group.rotation.vpc_id}")
    assert "ingress" not in sg and "egress" not in sg
    rds_sg = "${data.aws_ssm_parameter.rds_security_group.insecure_value}"
    egress = r["aws_vpc_security_group_egress_rule"]
    assert {(e["from_port"], e["to_port"], e.get("referenced_security_group_id"), e.get("cidr_ipv4"))
            for e in egress.values()} == \
        {(s.port, s.port, rds_sg, None), *((443, 443, None, c) for c in s.rotation_https_egress_cidrs)}
    assert all(e["security_group_id"] == "${aws_security_group.rotation.id}" and e["ip_protocol"] == "tcp"
               for e in egress.values())
    (ingress,) = r["aws_vpc_security_group_ingress_rule"].values()
    assert (ingress["security_group_id"], ingress["referenced_security_group_id"], ingress["from_port"]) == \
        (rds_sg, "${aws_security_group.rotation.id}", s.port)
    assert _instance(doc)["vpc_security_group_ids"] == [rds_sg]


@pytest.mark.parametrize("env", REAL)
def test_secrets_key_lets_the_function_decrypt_only_through_secrets_manager(env: str, stack_json: dict) -> None:
    """The function's role (made by the application) is an IAM principal of the account: the key policy
    delegates to IAM through the root principal, limited to use via secretsmanager in this account."""
    s, _, doc = _doc(stack_json, env)
    statements = doc["data"]["aws_iam_policy_document"]["secrets_key_policy"]["statement"]
    use = next(st for st in statements if st["sid"] == "UseThroughServices")
    assert {"kms:Decrypt", "kms:GenerateDataKey*"} <= set(use["actions"])
    conds = {c["variable"]: c["values"] for c in use["condition"]}
    assert conds["kms:ViaService"] == [f"secretsmanager.{s.region}.amazonaws.com"]
    assert conds["kms:CallerAccount"] == ["${data.aws_caller_identity.current.account_id}"]
    assert use["principals"] == [{"type": "AWS", "identifiers": [
        "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]}]


def test_emulator_leaves_out_exactly_the_listed_types(stack_json: dict) -> None:
    """local (an emulator) synthesizes dev's stack minus aws_reference.EMULATOR_UNSUPPORTED, nothing else."""
    _, _, local = _doc(stack_json, "local")
    _, _, dev = _doc(stack_json, "dev")
    missing = set(dev["resource"]) - set(local["resource"])
    left_out = settings_mod.load("local", None).emulator_left_out
    print(f"\nleft out for the emulator: {', '.join(left_out)}", file=sys.stderr)
    assert missing == set(aws_reference.EMULATOR_UNSUPPORTED) == set(left_out)
    assert set(local["resource"]) - set(dev["resource"]) == set()
    for rtype in local["resource"]:  # every other resource of dev's stack is there, by address
        assert set(local["resource"][rtype]) == set(dev["resource"][rtype]), rtype
    assert settings_mod.load("prod", None).emulator_left_out == {}


def _instance(doc: dict[str, Any]) -> dict[str, Any]:
    (body,) = doc["resource"]["aws_db_instance"].values()
    return body


# ----- verify's rotation checks against the emulator ------------------------------------------

SECRET = json.dumps({"engine": "postgres", "host": "h", "username": "u", "password": "not-a-real-one"})


def _ctx(url: str) -> Context:
    s = settings_mod.load("dev", None, aws_endpoint_url=url)
    return Context(s)


def _make_secrets(ctx: Context) -> None:
    s = ctx.settings
    for name in (s.connection_secret_name, s.migrator_secret_name):
        ctx.aws.secrets.create_secret(Name=name, SecretString=SECRET)


def test_rotation_check_skips_where_the_emulator_left_it_out(fresh_emulator: str) -> None:
    ctx = _ctx(fresh_emulator)
    _make_secrets(ctx)
    c = aws_checks.rotation_app(ctx)
    assert c.status is Status.SKIP
    assert c.detail.startswith("emulator: left out for the emulator: ")
    assert "aws_serverlessapplicationrepository_cloudformation_stack" in c.detail


def test_rotation_configured_wrongly_fails(fresh_emulator: str) -> None:
    """Rotation every 120 days FAILs, and so does rotation off; the function itself is not asked
    for where the emulator leaves it out (it cannot host one)."""
    ctx = _ctx(fresh_emulator)
    _make_secrets(ctx)
    ctx.aws.secrets.rotate_secret(SecretId=ctx.settings.connection_secret_name,
                                  RotationRules={"AutomaticallyAfterDays": 120}, RotateImmediately=False)
    c = aws_checks.rotation_app(ctx)
    assert c.status is Status.FAIL
    conn, mig = ctx.settings.connection_secret_name, ctx.settings.migrator_secret_name
    assert f"{conn}: rotates every 120 days, expected 90" in c.detail
    assert "rotation function is none" not in c.detail
    assert f"{mig}: rotation is off" in c.detail


def test_a_failed_rotation_fails(fresh_emulator: str) -> None:
    """A version left in AWSPENDING beside AWSCURRENT is what a failed rotation leaves behind."""
    ctx = _ctx(fresh_emulator)
    _make_secrets(ctx)
    name = ctx.settings.connection_secret_name
    ctx.aws.secrets.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 90},
                                  RotateImmediately=False)
    ctx.aws.secrets.put_secret_value(SecretId=name, SecretString=SECRET, VersionStages=["AWSPENDING"])
    c = aws_checks.rotation_app(ctx)
    assert c.status is Status.FAIL and "stuck in AWSPENDING" in c.detail


def test_a_finished_rotation_in_the_emulator_skips_saying_so(fresh_emulator: str) -> None:
    """Both secrets on a 90-day rotation whose last run finished (AWSCURRENT moved): SKIP, not PASS,
    since no function could run it here; the same state with a pending version FAILs (above)."""
    ctx = _ctx(fresh_emulator)
    _make_secrets(ctx)
    for name in (ctx.settings.connection_secret_name, ctx.settings.migrator_secret_name):
        sm = ctx.aws.secrets
        token = sm.rotate_secret(SecretId=name, RotationRules={"AutomaticallyAfterDays": 90})["VersionId"]
        (old,) = [v for v, st in sm.describe_secret(SecretId=name)["VersionIdsToStages"].items() if "AWSCURRENT" in st]
        sm.put_secret_value(SecretId=name, ClientRequestToken=token, SecretString=SECRET, VersionStages=["AWSPENDING"])
        sm.update_secret_version_stage(SecretId=name, VersionStage="AWSCURRENT", MoveToVersionId=token,
                                       RemoveFromVersionId=old)
    c = aws_checks.rotation_app(ctx)
    assert c.status is Status.SKIP, c
    assert c.detail.startswith("emulator: rotation on, every 90 d, no rotation pending or failed")


def test_well_configured_rotation_has_no_problem() -> None:
    """The verdict on a describe_secret answer as AWS gives it for a healthy rotation."""
    from datetime import datetime, timedelta

    s = settings_mod.load("prod", None)
    meta = {"RotationEnabled": True, "RotationRules": {"AutomaticallyAfterDays": 90},
            "RotationLambdaARN": f"arn:aws:lambda:us-east-1:123456789012:function:{s.rotation_function_name}",
            "NextRotationDate": datetime.now(UTC) + timedelta(days=30),
            "VersionIdsToStages": {"a" * 32: ["AWSCURRENT", "AWSPENDING"], "b" * 32: ["AWSPREVIOUS"]}}
    assert aws_checks._rotation_problems(meta, 90, s.rotation_function_name) == []
    overdue = {**meta, "NextRotationDate": datetime.now(UTC) - timedelta(days=3)}
    assert any("overdue" in p for p in aws_checks._rotation_problems(overdue, 90, s.rotation_function_name))


@pytest.mark.slow
def test_applied_dev_leaves_out_rotation_and_verify_says_so(applied_env) -> None:
    """dev applied to the emulator: the state holds the rotation security group and rules but not
    the left-out types; verify's rotation checks SKIP with the reason; Extended Support PASSes."""
    applied = applied_env("dev")
    s = applied.settings
    listed = terraform.run(["state", "list"], applied.deployed.stacks[s.stack_id], s.provider_mirror,
                           env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                                "AWS_REGION": s.region})
    addresses = listed.stdout.split()
    assert {"aws_security_group.rotation", "aws_vpc_security_group_egress_rule.rotation_to_db",
            "aws_vpc_security_group_ingress_rule.rds_from_rotation"} <= set(addresses)
    assert not [a for a in addresses if a.split(".")[0] in s.emulator_left_out]
    ctx = Context(s)
    app, master, es = (aws_checks.rotation_app(ctx), aws_checks.rotation_master(ctx),
                       aws_checks.extended_support(ctx))
    assert app.status is Status.SKIP and "left out for the emulator" in app.detail
    assert master.status is Status.SKIP and master.detail.startswith("emulator:")
    assert es.status is Status.PASS, es


# ----- the fidelity correction this needed (tenantdb/local/fidelity.py rule_descriptions_kept) ---

def _group_rule_description(url: str) -> str | None:
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    vpc = ec2.create_vpc(CidrBlock="10.77.0.0/16")["Vpc"]["VpcId"]
    rds = ec2.create_security_group(GroupName=f"rds-{vpc}", Description="rds", VpcId=vpc)["GroupId"]
    rot = ec2.create_security_group(GroupName=f"rot-{vpc}", Description="rot", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=rds, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432,
        "UserIdGroupPairs": [{"GroupId": rot, "Description": "PostgreSQL from the rotation function"}]}])
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [rds]}])["SecurityGroupRules"]
    (rule,) = [r for r in rules if not r["IsEgress"]]
    assert rule["ReferencedGroupInfo"]["GroupId"] == rot
    return rule.get("Description")


def test_group_rule_description_kept_by_the_fidelity_layer(emulator: str, plain_emulator: str) -> None:
    assert _group_rule_description(plain_emulator) is None  # moto drops it
    assert _group_rule_description(emulator) == "PostgreSQL from the rotation function"


def test_a_secret_without_a_rotation_schedule_is_named_so_not_every_none_days():
    from tenantdb.verify.aws_checks import _rotation_problems

    found = _rotation_problems({"RotationEnabled": False}, 90, "SecretsManagerRDSPostgreSQLRotationSingleUser")
    assert "no rotation schedule, expected every 90 days" in found
    assert not any("None" in p for p in found), found
