"""Assertions about secret rotation (stacks/rotation.py): the connection and migrator
secrets rotate through AWS's single-user PostgreSQL rotation function."""

from __future__ import annotations

from typing import Any

from tenantdb.infra.check.context import Ctx, title
from tenantdb.infra.check.reader import ref
from tenantdb.report import Check, failed, passed, skipped

ID = "SEC-ROTATION-APP"


def app_secrets(c: Ctx) -> Check:
    """Both application secrets rotate every secret_rotation_days through the pinned SAR function;
    where AWS is an emulator the left-out resources are named and the rest is checked."""
    s, cid, t = c.s, ID, title(ID)
    problems = _network_problems(c)
    left_out = s.emulator_left_out
    expected = (f"{s.rotation_application_id.rsplit('/', 1)[-1]} {s.rotation_application_version} rotates "
                f"{s.connection_secret_name} and {s.migrator_secret_name} every {s.secret_rotation_days} d")
    rotations = c.db.resources("aws_secretsmanager_secret_rotation")
    if not left_out:
        problems += _rotation_problems(c, c.db.resources("aws_serverlessapplicationrepository_cloudformation_stack"),
                                       rotations)
    if problems:
        return failed(cid, t, expected, "; ".join(problems), "; ".join(problems))
    if left_out:
        present = sorted(rt for rt in left_out if c.db.resources(rt))
        if present:
            return failed(cid, t, "left out for the emulator", f"present: {', '.join(present)}")
        return skipped(cid, t, f"left out for the emulator: {', '.join(left_out)} "
                       f"({'; '.join(left_out.values())}); security group and rules checked", expected)
    return passed(cid, t, expected, f"{len(rotations)} rotations, function {s.rotation_function_name}")


def _network_problems(c: Ctx) -> list[str]:
    """The rotation function's security group reaches the instance's, and is let in."""
    s, problems = c.s, []
    rules = {**c.db.resources("aws_vpc_security_group_egress_rule"),
             **c.db.resources("aws_vpc_security_group_ingress_rule")}
    rds_sg = c.instance.get("vpc_security_group_ids", [None])[0]
    sg_id = ref("aws_security_group", "rotation", "id")
    if not c.db.resources("aws_security_group").get("rotation"):
        problems.append("no aws_security_group.rotation")
    to_db, from_rot = rules.get("rotation_to_db", {}), rules.get("rds_from_rotation", {})
    if (to_db.get("referenced_security_group_id"), to_db.get("from_port")) != (rds_sg, s.port):
        problems.append(f"rotation egress to the RDS security group on {s.port} missing")
    if (from_rot.get("security_group_id"), from_rot.get("referenced_security_group_id"), from_rot.get("from_port")) \
            != (rds_sg, sg_id, s.port):
        problems.append(f"RDS security group ingress from the rotation group on {s.port} missing")
    return problems


def _rotation_problems(c: Ctx, apps: dict[str, Any], rotations: dict[str, Any]) -> list[str]:
    s = c.s
    if len(apps) != 1:
        return [f"{len(apps)} rotation applications, want 1"]
    (app_name, app), problems = next(iter(apps.items())), []
    params = app.get("parameters", {})
    want = {"functionName": s.rotation_function_name, "kmsKeyArn": c.key_arn(s.kms_alias_secrets),
            "vpcSecurityGroupIds": ref("aws_security_group", "rotation", "id"),
            "endpoint": f"https://secretsmanager.{s.region}.amazonaws.com"}
    problems += [f"parameter {k}={params.get(k)!r}, want {v!r}" for k, v in want.items() if params.get(k) != v]
    if "data.aws_db_subnet_group.rotation.subnet_ids" not in str(params.get("vpcSubnetIds")):
        problems.append("vpcSubnetIds are not the DB subnet group's subnets")
    if (app.get("application_id"), app.get("semantic_version")) != (s.rotation_application_id,
                                                                       s.rotation_application_version):
        problems.append(f"application {app.get('application_id')} {app.get('semantic_version')}")
    if sorted(app.get("capabilities", [])) != ["CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY"]:
        problems.append(f"capabilities {app.get('capabilities')}")
    function = f'${{aws_serverlessapplicationrepository_cloudformation_stack.{app_name}.outputs["RotationLambdaARN"]}}'
    for secret in (s.connection_secret_name, s.migrator_secret_name):
        addr, _ = c.db.named("aws_secretsmanager_secret", "name", secret)
        rot = next((r for r in rotations.values()
                    if r.get("secret_id") == ref("aws_secretsmanager_secret", addr, "arn")), None)
        if rot is None:
            problems.append(f"{secret}: no aws_secretsmanager_secret_rotation")
            continue
        days = rot.get("rotation_rules", {}).get("automatically_after_days")
        if days != s.secret_rotation_days or rot.get("rotation_lambda_arn") != function:
            problems.append(f"{secret}: every {days} d through {rot.get('rotation_lambda_arn')}")
        if rot.get("rotate_immediately") is not False:
            problems.append(f"{secret}: rotate_immediately must be false (the secret is empty until bootstrap)")
    return problems

