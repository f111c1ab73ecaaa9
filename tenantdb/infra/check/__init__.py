"""`tenantdb check`: synth-and-plan checks, offline, before anything is applied.

For each selected environment: ``terraform init -backend=false`` against the
provider mirror (the project's CLI config), ``terraform validate``, and
assertions over the synthesized JSON for every acceptance criterion decidable
before apply (AC1-AC6, AC9's secret) plus the security settings around them.

Expected values come from the settings. Where Story 0.4 fixes a value for an
environment (prod is Multi-AZ, backups at 03:00 UTC, ...), the expectation is
the environment's *baseline* (defaults + profile, no overlay), so an overlay
that breaks a criterion FAILs the check that names it. Fail closed: if synth or
init cannot run, the checks are ERROR, never PASS.

This module never imports cdktf or stacks/ (LAYOUT.md); it reads JSON.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenantdb.infra import policy_gate as policy
from tenantdb.infra import synth as synth_mod
from tenantdb.infra import terraform
from tenantdb.errors import ToolkitError
from tenantdb.report import Check, Report, compare, errored, failed, passed, run_check, skipped
from tenantdb.settings import PROFILES, Settings

STAGE = "check"

# Contract with stacks/database_stack.OUTPUTS (tests/test_check.py asserts they agree).
REQUIRED_OUTPUTS: tuple[str, ...] = (
    "endpoint_address", "endpoint_port", "instance_identifier", "master_secret_arn",
    "connection_secret_arn", "migrator_secret_arn", "parameter_group_name",
    "rds_kms_key_arn", "secrets_kms_key_arn", "irsa_policy_arn",
)
MONITORING_SERVICE = "monitoring.rds.amazonaws.com"
MONITORING_POLICY_SUFFIX = ":policy/service-role/AmazonRDSEnhancedMonitoringRole"
SECRET_READ_ACTIONS = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
PASSWORD_ATTRIBUTES = {"password", "password_wo", "master_password", "secret_string", "secret_string_wo",
                       "secret_binary"}
_REF = re.compile(r"^\$\{(data\.)?([a-z0-9_]+)\.([A-Za-z0-9_-]+)\.([a-z0-9_\[\]]+)\}$")

_init_lock = threading.Lock()  # the plugin cache is not safe for concurrent init


# ----- the synthesized stack, read ---------------------------------------------

@dataclass(frozen=True)
class Stack:
    directory: Path
    doc: dict[str, Any]

    @classmethod
    def load(cls, directory: Path) -> Stack:
        return cls(directory, json.loads((directory / "cdk.tf.json").read_text()))

    def resources(self, rtype: str) -> dict[str, dict[str, Any]]:
        return self.doc.get("resource", {}).get(rtype, {})

    def data(self, dtype: str) -> dict[str, dict[str, Any]]:
        return self.doc.get("data", {}).get(dtype, {})

    def one(self, rtype: str) -> tuple[str, dict[str, Any]]:
        found = self.resources(rtype)
        if len(found) != 1:
            raise LookupError(f"expected exactly one {rtype}, found {len(found)}")
        return next(iter(found.items()))

    def named(self, rtype: str, attr: str, value: str) -> tuple[str, dict[str, Any]]:
        """The resource of ``rtype`` whose ``attr`` equals ``value``."""
        for name, body in self.resources(rtype).items():
            if body.get(attr) == value:
                return name, body
        raise LookupError(f"no {rtype} with {attr} = {value!r}")

    def key_for_alias(self, alias: str) -> str:
        """The aws_kms_key address behind a KMS alias name."""
        _, body = self.named("aws_kms_alias", "name", alias)
        ref = parse_ref(body.get("target_key_id"))
        if not ref or ref[1] != "aws_kms_key":
            raise LookupError(f"alias {alias} does not point at an aws_kms_key of this stack")
        return ref[2]

    def policy_doc(self, reference: Any) -> dict[str, Any]:
        """The aws_iam_policy_document a ``${data.aws_iam_policy_document.X.json}`` points at."""
        ref = parse_ref(reference)
        if not ref or not ref[0] or ref[1] != "aws_iam_policy_document":
            raise LookupError(f"policy {reference!r} is not an aws_iam_policy_document reference")
        return self.data("aws_iam_policy_document")[ref[2]]

    def walk(self) -> Iterable[tuple[str, Any]]:
        """Every (key, value) pair in the document, at any depth."""
        stack: list[Any] = [self.doc]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for k, v in node.items():
                    yield k, v
                    stack.append(v)
            elif isinstance(node, list):
                stack.extend(node)


def parse_ref(value: Any) -> tuple[bool, str, str, str] | None:
    """``${data.T.N.attr}`` -> (is_data, T, N, attr); anything else -> None."""
    m = _REF.match(value) if isinstance(value, str) else None
    return (bool(m[1]), m[2], m[3], m[4]) if m else None


def ref(rtype: str, name: str, attr: str, data: bool = False) -> str:
    return f"${{{'data.' if data else ''}{rtype}.{name}.{attr}}}"


# ----- one environment's context ----------------------------------------------

@dataclass(frozen=True)
class Ctx:
    s: Settings
    base: Settings
    """The environment's baseline: Story 0.4's values (defaults + profile, no overlay)."""
    db: Stack

    @property
    def instance(self) -> dict[str, Any]:
        return self.db.one("aws_db_instance")[1]

    def key_arn(self, alias: str) -> str:
        return ref("aws_kms_key", self.db.key_for_alias(alias), "arn")


def baseline(s: Settings) -> Settings:
    return Settings(environment=s.environment, **PROFILES[s.environment])


# ----- the acceptance criteria ---------------------------------------------------

def ac1_engine(c: Ctx) -> Check:
    i = c.instance
    major = str(i.get("engine_version", "")).split(".")[0]
    actual = f"{i.get('engine')} {i.get('engine_version')}"
    ok = i.get("engine") == "postgres" and major == str(c.s.engine_major) and int(major or 0) >= c.base.engine_major
    exp = f"postgres {c.s.engine_major} (>= {c.base.engine_major})"
    return (passed if ok else failed)("AC1", TITLES["AC1"], exp, actual)


def ac2_class(c: Ctx) -> Check:
    return _story_value(c, "AC2", "instance_class", c.instance.get("instance_class"))


def ac3_multi_az(c: Ctx) -> Check:
    # The story requires Multi-AZ where the baseline has it (prod); elsewhere it follows the settings.
    expected = True if c.base.multi_az else c.s.multi_az
    return compare("AC3", TITLES["AC3"], expected, c.instance.get("multi_az"),
                   "" if c.instance.get("multi_az") == expected else
                   f"{c.s.environment} must be Multi-AZ (Story 0.4 AC3); settings multi_az={c.s.multi_az}")


def ac4_backups(c: Ctx) -> Check:
    i = c.instance
    expected = f"retention {c.s.backup_retention_days} d (>= {c.base.backup_retention_days}), window {c.base.backup_window}"
    actual = f"retention {i.get('backup_retention_period')} d, window {i.get('backup_window')}"
    ok = (i.get("backup_retention_period") == c.s.backup_retention_days
          and (i.get("backup_retention_period") or 0) >= c.base.backup_retention_days
          and i.get("backup_window") == c.base.backup_window == c.s.backup_window)
    return (passed if ok else failed)("AC4", TITLES["AC4"], expected, actual)


def ac5_encryption(c: Ctx) -> Check:
    i = c.instance
    key = c.key_arn(c.s.kms_alias_rds)
    expected = f"storage_encrypted=true, kms_key_id={key}"
    actual = f"storage_encrypted={_tf(i.get('storage_encrypted'))}, kms_key_id={i.get('kms_key_id')}"
    ok = i.get("storage_encrypted") is True and i.get("kms_key_id") == key
    return (passed if ok else failed)("AC5", TITLES["AC5"], expected, actual)


def ac6_parameters(c: Ctx) -> Check:
    i = c.instance
    pref = parse_ref(i.get("parameter_group_name"))
    if not pref or pref[1] != "aws_db_parameter_group":
        return failed("AC6", TITLES["AC6"], "custom parameter group attached", i.get("parameter_group_name"),
                      "the instance does not use this stack's aws_db_parameter_group")
    group = c.db.resources("aws_db_parameter_group")[pref[2]]
    actual = {p["name"]: (p["value"], p.get("apply_method")) for p in group.get("parameter", [])}
    problems = []
    if group.get("family") != c.s.parameter_group_family or group.get("name") != c.s.parameter_group_name:
        problems.append(f"group {group.get('name')}/{group.get('family')}, "
                        f"want {c.s.parameter_group_name}/{c.s.parameter_group_family}")
    for name, want in c.s.db_parameters.items():
        if actual.get(name) != want:
            problems.append(f"{name}={actual.get(name)} want {want}")
    for name in ("max_connections", "shared_buffers"):  # the story's own numbers (AC6)
        if actual.get(name, (None,))[0] != c.base.db_parameters[name][0]:
            problems.append(f"{name}={actual.get(name, (None,))[0]} but Story 0.4 requires "
                            f"{c.base.db_parameters[name][0]}")
    expected = (f"{c.s.parameter_group_name}: max_connections={c.base.db_parameters['max_connections'][0]}, "
                f"shared_buffers={c.base.db_parameters['shared_buffers'][0]}, {len(c.s.db_parameters)} parameters")
    got = (f"{group.get('name')}: max_connections={actual.get('max_connections', ('-',))[0]}, "
           f"shared_buffers={actual.get('shared_buffers', ('-',))[0]}, {len(actual)} parameters")
    return (failed("AC6", TITLES["AC6"], expected, got, "; ".join(problems)) if problems
            else passed("AC6", TITLES["AC6"], expected, got))


def ac9_secret(c: Ctx) -> Check:
    name, body = c.db.named("aws_secretsmanager_secret", "name", c.s.connection_secret_name)
    key = c.key_arn(c.s.kms_alias_secrets)
    versions = c.db.resources("aws_secretsmanager_secret_version")
    expected = f"secret {c.s.connection_secret_name}, kms {key}, no value in Terraform"
    actual = f"secret {body.get('name')}, kms {body.get('kms_key_id')}, {len(versions)} version resources"
    ok = body.get("kms_key_id") == key and not versions
    return (passed if ok else failed)("AC9", TITLES["AC9"], expected, actual)


# ----- the settings around them ----------------------------------------------------

def sec_no_password(c: Ctx) -> Check:
    i = c.instance
    key = c.key_arn(c.s.kms_alias_secrets)
    offending = sorted({k for k, v in c.db.walk() if k in PASSWORD_ATTRIBUTES and v not in (None, "")})
    offending += sorted(f"resource {t}" for t in c.db.doc.get("resource", {}) if t.endswith("_secret_version"))
    ok = (i.get("manage_master_user_password") is True and i.get("master_user_secret_kms_key_id") == key
          and not offending)
    expected = f"manage_master_user_password=true, master secret kms {key}, no password attribute"
    actual = (f"manage_master_user_password={_tf(i.get('manage_master_user_password'))}, "
              f"master secret kms {i.get('master_user_secret_kms_key_id')}, "
              f"{', '.join(offending) or 'no password attribute'}")
    return (passed if ok else failed)("SEC-NO-PASSWORD", TITLES["SEC-NO-PASSWORD"], expected, actual)


def sec_migrator(c: Ctx) -> Check:
    _, body = c.db.named("aws_secretsmanager_secret", "name", c.s.migrator_secret_name)
    return compare("SEC-MIGRATOR", TITLES["SEC-MIGRATOR"], c.key_arn(c.s.kms_alias_secrets), body.get("kms_key_id"))


def sec_rotation(c: Ctx) -> Check:
    """Both application secrets rotate every secret_rotation_days through the pinned SAR function
    (issue 6); where AWS is an emulator the left-out resources are named and the rest is checked."""
    s, cid = c.s, "SEC-ROTATION"
    problems: list[str] = []
    apps = c.db.resources("aws_serverlessapplicationrepository_cloudformation_stack")
    rotations = c.db.resources("aws_secretsmanager_secret_rotation")
    sg = c.db.resources("aws_security_group").get("rotation")
    rules = {**c.db.resources("aws_vpc_security_group_egress_rule"), **c.db.resources("aws_vpc_security_group_ingress_rule")}
    rds_sg = c.instance.get("vpc_security_group_ids", [None])[0]
    sg_id = ref("aws_security_group", "rotation", "id")
    if not sg:
        problems.append("no aws_security_group.rotation")
    to_db, from_rot = rules.get("rotation_to_db", {}), rules.get("rds_from_rotation", {})
    if (to_db.get("referenced_security_group_id"), to_db.get("from_port")) != (rds_sg, s.port):
        problems.append(f"rotation egress to the RDS security group on {s.port} missing")
    if (from_rot.get("security_group_id"), from_rot.get("referenced_security_group_id"), from_rot.get("from_port")) \
            != (rds_sg, sg_id, s.port):
        problems.append(f"RDS security group ingress from the rotation group on {s.port} missing")
    left_out = s.emulator_left_out
    expected = (f"{s.rotation_application_id.rsplit('/', 1)[-1]} {s.rotation_application_version} rotates "
                f"{s.connection_secret_name} and {s.migrator_secret_name} every {s.secret_rotation_days} d")
    if not left_out:
        problems += _rotation_problems(c, apps, rotations)
    if problems:
        return failed(cid, TITLES[cid], expected, "; ".join(problems), "; ".join(problems))
    if left_out:
        present = sorted(t for t in left_out if c.db.resources(t))
        if present:
            return failed(cid, TITLES[cid], "left out for the emulator", f"present: {', '.join(present)}")
        return skipped(cid, TITLES[cid], f"left out for the emulator: {', '.join(left_out)} "
                       f"({'; '.join(left_out.values())}); security group and rules checked", expected)
    return passed(cid, TITLES[cid], expected, f"{len(rotations)} rotations, function {s.rotation_function_name}")


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


def extended_support(c: Ctx) -> Check:
    """Cost safety: RDS enrols an instance in paid Extended Support unless it opts out explicitly."""
    want, got = c.s.engine_lifecycle_support, c.instance.get("engine_lifecycle_support")
    cid = "EXTENDED-SUPPORT"
    if got is None:
        return failed(cid, TITLES[cid], want, "not set", "absent means RDS enrols the instance in paid "
                      "Extended Support when the major version leaves standard support")
    detail = "" if got.endswith("-disabled") else "opted IN to paid Extended Support by settings"
    return compare(cid, TITLES[cid], want, got, detail)


def net_lookup(c: Ctx) -> Check:
    i = c.instance
    params = {body.get("name"): name for name, body in c.db.data("aws_ssm_parameter").items()}
    def param_ref(param_name: str) -> str:
        if param_name not in params:
            raise LookupError(f"no aws_ssm_parameter data source reads {param_name}")
        return ref("aws_ssm_parameter", params[param_name], "insecure_value", data=True)
    expected = {"db_subnet_group_name": param_ref(c.s.ssm_db_subnet_group_param),
                "vpc_security_group_ids": [param_ref(c.s.ssm_security_group_param)]}
    actual = {k: i.get(k) for k in expected}
    def shown(d: dict[str, Any]) -> str:
        return f"subnet group {d['db_subnet_group_name']}, security groups {d['vpc_security_group_ids']}"
    return compare("NET-LOOKUP", TITLES["NET-LOOKUP"], shown(expected), shown(actual),
                   "" if actual == expected else
                   f"subnet group and security group must come from SSM {c.s.ssm_db_subnet_group_param}, "
                   f"{c.s.ssm_security_group_param}, not literal ids")


def public_access(c: Ctx) -> Check:
    return compare("PUBLIC-ACCESS", TITLES["PUBLIC-ACCESS"], False, c.instance.get("publicly_accessible"))


def deletion_protection(c: Ctx) -> Check:
    expected = True if c.base.deletion_protection else c.s.deletion_protection
    return compare("DELETION-PROTECTION", TITLES["DELETION-PROTECTION"], expected,
                   c.instance.get("deletion_protection"))


def final_snapshot(c: Ctx) -> Check:
    i = c.instance
    wanted = c.base.final_snapshot or c.s.final_snapshot
    ok = i.get("skip_final_snapshot") is (not wanted) and (bool(i.get("final_snapshot_identifier")) or not wanted)
    expected = "final snapshot taken on delete" if wanted else "no final snapshot"
    actual = (f"skip_final_snapshot={_tf(i.get('skip_final_snapshot'))}, "
              f"final_snapshot_identifier={i.get('final_snapshot_identifier')}")
    return (passed if ok else failed)("FINAL-SNAPSHOT", TITLES["FINAL-SNAPSHOT"], expected, actual)


def storage(c: Ctx) -> Check:
    i = c.instance
    expected = (c.s.storage_type, c.s.allocated_storage_gb, c.s.max_allocated_storage_gb)
    actual = (i.get("storage_type"), i.get("allocated_storage"), i.get("max_allocated_storage"))
    return compare("STORAGE", TITLES["STORAGE"], "%s %s GB -> %s GB" % expected, "%s %s GB -> %s GB" % actual)


def maintenance(c: Ctx) -> Check:
    return compare("MAINTENANCE-WINDOW", TITLES["MAINTENANCE-WINDOW"], c.base.maintenance_window,
                   c.instance.get("maintenance_window"))


def performance_insights(c: Ctx) -> Check:
    i = c.instance
    key = c.key_arn(c.s.kms_alias_rds)
    expected = f"enabled, {c.s.performance_insights_retention_days} d, kms {key}"
    actual = (f"{'enabled' if i.get('performance_insights_enabled') is True else 'disabled'}, "
              f"{i.get('performance_insights_retention_period')} d, kms {i.get('performance_insights_kms_key_id')}")
    ok = (expected == actual and
          c.s.performance_insights_retention_days >= c.base.performance_insights_retention_days)
    return (passed if ok else failed)("PI", TITLES["PI"], expected, actual)


def monitoring(c: Ctx) -> Check:
    i = c.instance
    role_ref = parse_ref(i.get("monitoring_role_arn"))
    if not role_ref or role_ref[1] != "aws_iam_role":
        return failed("MONITORING", TITLES["MONITORING"], "a monitoring role of this stack", i.get("monitoring_role_arn"))
    role = c.db.resources("aws_iam_role")[role_ref[2]]
    trust = c.db.policy_doc(role.get("assume_role_policy"))
    services = {ident for st in trust.get("statement", []) for p in st.get("principals", [])
                if p.get("type") == "Service" for ident in p.get("identifiers", [])}
    attached = [a.get("policy_arn", "") for a in c.db.resources("aws_iam_role_policy_attachment").values()
                if a.get("role") == ref("aws_iam_role", role_ref[2], "name")]
    expected = f"{c.s.monitoring_interval_s} s, role trusted by {MONITORING_SERVICE} with AmazonRDSEnhancedMonitoringRole"
    actual = (f"{i.get('monitoring_interval')} s, role trusted by {', '.join(sorted(services)) or 'nobody'}"
              f" with {', '.join(a.rsplit('/', 1)[-1] for a in attached) or 'no policy'}")
    ok = (i.get("monitoring_interval") == c.s.monitoring_interval_s == c.base.monitoring_interval_s
          and services == {MONITORING_SERVICE}
          and any(a.endswith(MONITORING_POLICY_SUFFIX) for a in attached))
    return (passed if ok else failed)("MONITORING", TITLES["MONITORING"], expected, actual)


def logs(c: Ctx) -> Check:
    i = c.instance
    key = c.key_arn(c.s.kms_alias_rds)
    problems = []
    if i.get("enabled_cloudwatch_logs_exports") != list(c.s.log_exports):
        problems.append(f"exports {i.get('enabled_cloudwatch_logs_exports')}, want {list(c.s.log_exports)}")
    for name in c.s.log_group_names:
        try:
            addr, group = c.db.named("aws_cloudwatch_log_group", "name", name)
        except LookupError as exc:
            problems.append(str(exc))
            continue
        if group.get("kms_key_id") != key or group.get("retention_in_days") != c.s.log_retention_days:
            problems.append(f"{name}: kms {group.get('kms_key_id')}, retention {group.get('retention_in_days')}")
        if f"aws_cloudwatch_log_group.{addr}" not in i.get("depends_on", []):
            problems.append(f"instance does not depend on {name} (RDS would create it unencrypted)")
    expected = (f"exports {', '.join(c.s.log_exports)}; groups encrypted with {key}, "
                f"{c.s.log_retention_days} d")
    return (failed("LOGS", TITLES["LOGS"], expected, "; ".join(problems), "; ".join(problems)) if problems
            else passed("LOGS", TITLES["LOGS"], expected, f"{len(c.s.log_group_names)} log groups as expected"))


def kms_keys(c: Ctx) -> list[Check]:
    out = []
    rds_key, secrets_key = c.db.key_for_alias(c.s.kms_alias_rds), c.db.key_for_alias(c.s.kms_alias_secrets)
    keys = c.db.resources("aws_kms_key")
    rotation = {n: keys[n].get("enable_key_rotation") for n in (rds_key, secrets_key)}
    out.append(compare("KMS-ROTATION", TITLES["KMS-ROTATION"], "rotation on for both CMKs",
                       "rotation on for both CMKs" if all(v is True for v in rotation.values()) else str(rotation)))
    out.append(compare("KMS-SEPARATE", TITLES["KMS-SEPARATE"], "two distinct CMKs",
                       "two distinct CMKs" if rds_key != secrets_key else f"one key {rds_key}"))
    problems = []
    for name in (rds_key, secrets_key):
        doc = c.db.policy_doc(keys[name].get("policy"))
        for st in doc.get("statement", []):
            for p in st.get("principals", []):
                for ident in p.get("identifiers", []):
                    if ident == "*" or (p.get("type") == "AWS" and not ident.endswith(":root")):
                        problems.append(f"{name}/{st.get('sid')}: principal {p.get('type')} {ident}")
            uses_crypto = any(a in ("kms:Decrypt", "kms:Decrypt*", "kms:*") for a in st.get("actions", []))
            limited = any(cond.get("variable") in ("kms:ViaService", "kms:EncryptionContext:aws:logs:arn")
                          for cond in st.get("condition", []))
            if uses_crypto and not limited:
                problems.append(f"{name}/{st.get('sid')}: decrypt without kms:ViaService or encryption context")
    out.append(failed("KMS-POLICY", TITLES["KMS-POLICY"], "no wildcard principal; use only via services",
                      "; ".join(problems), "; ".join(problems)) if problems else
               passed("KMS-POLICY", TITLES["KMS-POLICY"], "no wildcard principal; use only via services",
                      "explicit key policies as expected"))
    return out


def irsa(c: Ctx) -> Check:
    _, pol = c.db.named("aws_iam_policy", "name", c.s.irsa_policy_name)
    doc = c.db.policy_doc(pol.get("policy"))
    secret_name, _ = c.db.named("aws_secretsmanager_secret", "name", c.s.connection_secret_name)
    secret_arn = ref("aws_secretsmanager_secret", secret_name, "arn")
    key_arn = c.key_arn(c.s.kms_alias_secrets)
    via = f"secretsmanager.{c.s.region}.amazonaws.com"
    problems = []
    for st in doc.get("statement", []):
        actions, resources = set(st.get("actions", [])), st.get("resources", [])
        conds = {(k.get("test"), k.get("variable")): k.get("values") for k in st.get("condition", [])}
        if actions <= SECRET_READ_ACTIONS and resources == [secret_arn]:
            continue
        if actions == {"kms:Decrypt"} and resources == [key_arn] and conds.get(("StringEquals", "kms:ViaService")) == [via]:
            continue
        problems.append(f"statement {st.get('sid')}: {sorted(actions)} on {resources} {conds or ''}".strip())
    expected = f"read {c.s.connection_secret_name} only; kms:Decrypt via {via}"
    return (failed("IRSA", TITLES["IRSA"], expected, "; ".join(problems), "; ".join(problems)) if problems
            else passed("IRSA", TITLES["IRSA"], expected, f"{len(doc.get('statement', []))} statements, scoped"))


def backend(c: Ctx) -> Check:
    b = c.db.doc.get("terraform", {}).get("backend", {})
    if c.s.environment == "local":
        path = b.get("local", {}).get("path", "")
        return compare("BACKEND", TITLES["BACKEND"], f"local .../{c.s.stack_id}.tfstate",
                       f"local .../{Path(path).name}" if path else json.dumps(b))
    s3 = b.get("s3", {})
    expected = f"s3://{c.s.state_bucket}/{c.s.state_key} ({c.s.region}), encrypt, use_lockfile"
    actual = (f"s3://{s3.get('bucket')}/{s3.get('key')} ({s3.get('region')})"
              f"{', encrypt' if s3.get('encrypt') is True else ''}{', use_lockfile' if s3.get('use_lockfile') is True else ''}")
    if c.s.aws_endpoint_url:
        expected += f", endpoint {c.s.aws_endpoint_url}"
        if s3.get("endpoints", {}).get("s3"):
            actual += f", endpoint {s3['endpoints']['s3']}"
    return compare("BACKEND", TITLES["BACKEND"], expected, actual)


def provider(c: Ctx) -> Check:
    (aws,) = c.db.doc.get("provider", {}).get("aws", [{}])
    endpoints = sorted({v for e in aws.get("endpoints", []) for v in e.values()})
    def where(urls: list[str]) -> str:
        return f"every endpoint at {urls[0]}" if len(urls) == 1 else (
            f"endpoints {', '.join(urls)}" if urls else "real AWS endpoints")
    expected = [c.s.aws_endpoint_url] if c.s.aws_endpoint_url else []
    return compare("PROVIDER", TITLES["PROVIDER"], f"region {c.s.region}, {where(expected)}",
                   f"region {aws.get('region')}, {where(endpoints)}")


def outputs(c: Ctx) -> Check:
    missing = [o for o in REQUIRED_OUTPUTS if o not in c.db.doc.get("output", {})]
    return compare("OUTPUTS", TITLES["OUTPUTS"], "all present", f"missing {', '.join(missing)}" if missing else "all present")


ASSERTIONS: tuple[tuple[str, str, Callable[[Ctx], Check | list[Check]]], ...] = (
    ("AC1", "PostgreSQL 15+ engine", ac1_engine),
    ("AC2", "Instance class for the environment", ac2_class),
    ("AC3", "Multi-AZ for production", ac3_multi_az),
    ("AC4", "Automated backups: retention and 03:00 UTC window", ac4_backups),
    ("AC5", "Storage encrypted with the RDS CMK", ac5_encryption),
    ("AC6", "Custom parameter group with the story's values", ac6_parameters),
    ("AC9", "Connection secret, secrets CMK, no value in Terraform", ac9_secret),
    ("SEC-NO-PASSWORD", "No password in Terraform; RDS-managed master secret", sec_no_password),
    ("SEC-MIGRATOR", "Migrator secret encrypted with the secrets CMK", sec_migrator),
    ("SEC-ROTATION", "Connection and migrator secrets rotate through AWS's single-user function", sec_rotation),
    ("EXTENDED-SUPPORT", "Extended Support opt-out set explicitly (cost safety)", extended_support),
    ("NET-LOOKUP", "Subnet group and security group looked up from SSM", net_lookup),
    ("PUBLIC-ACCESS", "Not publicly accessible", public_access),
    ("DELETION-PROTECTION", "Deletion protection", deletion_protection),
    ("FINAL-SNAPSHOT", "Final snapshot on delete", final_snapshot),
    ("STORAGE", "Storage type and autoscaling", storage),
    ("MAINTENANCE-WINDOW", "Maintenance window Sun 04:00-05:00 UTC", maintenance),
    ("PI", "Performance Insights, encrypted, retention", performance_insights),
    ("MONITORING", "Enhanced Monitoring interval and role", monitoring),
    ("LOGS", "CloudWatch log exports to encrypted, retained groups", logs),
    ("KMS", "KMS keys", kms_keys),
    ("IRSA", "IRSA policy reads only the connection secret", irsa),
    ("BACKEND", "Terraform state backend", backend),
    ("PROVIDER", "AWS provider region and endpoints", provider),
    ("OUTPUTS", "Stack outputs", outputs),
)
TITLES: dict[str, str] = {i: t for i, t, _ in ASSERTIONS} | {
    "KMS-ROTATION": "KMS key rotation on both CMKs",
    "KMS-SEPARATE": "Secrets Manager has its own CMK",
    "KMS-POLICY": "Explicit key policies, no wildcard principal",
}
TF_CHECKS = (("TF-INIT", "terraform init (offline, provider mirror)"), ("TF-VALIDATE", "terraform validate"))
NET_CHECKS = (("NET-STANDIN", "Network stand-in only where AWS is an emulator"),
              ("NET-TF-INIT", "terraform init of the network stand-in"),
              ("NET-TF-VALIDATE", "terraform validate of the network stand-in"))


# ----- running ---------------------------------------------------------------------

def run(targets: list[Settings], overlay: str | os.PathLike[str] | None = None) -> list[Report]:
    """Synth once for all environments, then check each target. UsageError (settings) propagates."""
    with tempfile.TemporaryDirectory(prefix="tenantdb-check-") as tmp:
        try:
            dirs = {d.name: d for d in synth_mod.synth(overlay=overlay, outdir=Path(tmp) / "cdktf.out")}
        except ToolkitError as exc:
            return [_all_error(s, f"synth failed: {exc}") for s in targets]
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(lambda s: check_environment(s, dirs), targets))


def check_environment(s: Settings, dirs: dict[str, Path]) -> Report:
    rep = Report(s.environment, STAGE)
    db_dir = dirs.get(s.stack_id)
    if db_dir is None:
        rep.add(_all_error(s, f"synth wrote no stack {s.stack_id}").checks)
        return rep
    rep.add(terraform_checks(db_dir, s.provider_mirror, TF_CHECKS))
    try:
        ctx = Ctx(s, baseline(s), Stack.load(db_dir))
    except (OSError, ValueError) as exc:
        rep.add(errored(i, t, f"cannot read {db_dir}/cdk.tf.json: {exc}")
                for i, t in [*((i, t) for i, t, _ in ASSERTIONS), (policy.SUMMARY_ID, policy.SUMMARY_TITLE)])
    else:
        for cid, title, fn in ASSERTIONS:
            rep.add(run_check(cid, title, lambda fn=fn: fn(ctx)))
        rep.add(policy.checks(s, db_dir / "cdk.tf.json", _instance_or_empty(ctx)))
    rep.add(network_checks(s, dirs))
    rep.add(access_checks(s, dirs))
    return rep


ACCESS_CHECKS = (("ACCESS-STACK", "Access stack: roles without passwords or superpowers (JSON)"),
                 ("ACCESS-TF-VALIDATE", "terraform validate of the access stack"))


def access_checks(s: Settings, dirs: dict[str, Path]) -> list[Check]:
    """The access stack (issue 8), when synthesized: asserted by JSON only. Its postgresql provider
    is not in the offline mirror, so init/validate cannot run here: SKIP saying so, never PASS."""
    (sid, stitle), (vid, vtitle) = ACCESS_CHECKS
    directory = dirs.get(s.access_stack_id)
    if directory is None:
        return [errored(sid, stitle, f"access_stack is on but synth wrote no {s.access_stack_id}")] \
            if s.access_stack else []
    return [*run_check(sid, stitle, lambda: _access_json(Stack.load(directory))),
            skipped(vid, vtitle, "the cyrilgdn/postgresql provider is not in the offline mirror "
                    f"({s.provider_mirror}); plan it where the registry is reachable (docs/access.md)")]


def _access_json(st: Stack) -> Check:
    (sid, stitle), _ = ACCESS_CHECKS
    roles_ = st.resources("postgresql_role")
    problems = [f"postgresql_role.{n}: {a}" for n, b in roles_.items() for a in ("superuser", "bypass_row_level_security")
                if b.get(a) is not False]
    problems += [f"{k} set" for k, v in st.walk() if k in PASSWORD_ATTRIBUTES | {"encrypted_password"} and v]
    actual = f"{len(roles_)} roles; " + ("; ".join(problems) if problems else "none superuser/bypassrls, no password")
    return (failed if problems or not roles_ else passed)(sid, stitle, "roles declared, no password", actual)


def network_checks(s: Settings, dirs: dict[str, Path]) -> list[Check]:
    net_dir = dirs.get(s.network_stack_id)
    (sid, stitle), tf_checks = NET_CHECKS[0], NET_CHECKS[1:]
    expected = "synthesized" if s.aws_endpoint_url else "absent (real AWS: Story 0.2 owns the network)"
    actual = "synthesized" if net_dir else "absent (real AWS: Story 0.2 owns the network)"
    out = [compare(sid, stitle, expected, actual)]
    if net_dir:
        out += terraform_checks(net_dir, s.provider_mirror, tf_checks)
    return out


def terraform_checks(directory: Path, mirror: str, ids: tuple[tuple[str, str], ...]) -> list[Check]:
    (init_id, init_title), (val_id, val_title) = ids
    try:
        res = init_offline(directory, mirror)
    except ToolkitError as exc:
        return [errored(init_id, init_title, str(exc)), errored(val_id, val_title, "init did not run")]
    if not res.ok:
        return [errored(init_id, init_title, res.first_error()), errored(val_id, val_title, "init failed")]
    init = passed(init_id, init_title, "success", "success")
    try:
        val = terraform.run(["validate", "-no-color", "-json"], directory, mirror)
    except ToolkitError as exc:
        return [init, errored(val_id, val_title, str(exc))]
    try:
        diags = json.loads(val.stdout)
    except ValueError:
        return [init, errored(val_id, val_title, val.first_error())]
    if val.ok and diags.get("valid") is True:
        warns = diags.get("warning_count", 0)
        return [init, passed(val_id, val_title, "valid", f"valid, {warns} warnings")]
    first = next((f"{d.get('summary')}: {d.get('detail', '')}".strip() for d in diags.get("diagnostics", [])
                  if d.get("severity") == "error"), val.first_error())
    return [init, failed(val_id, val_title, "valid", f"{diags.get('error_count', '?')} errors", first[:300])]


def init_offline(directory: Path, mirror: str) -> terraform.Result:
    """Offline init. One retry: other processes share the plugin cache, which Terraform
    does not guard against concurrent writers (a lost race fails once, then succeeds)."""
    with _init_lock:
        res = terraform.init(directory, mirror=mirror, backend=False)
        if not res.ok:
            time.sleep(1.0)
            res = terraform.init(directory, mirror=mirror, backend=False)
    return res


def _instance_or_empty(ctx: Ctx) -> dict[str, Any]:
    try:
        return ctx.instance
    except LookupError:
        return {}


def _all_error(s: Settings, reason: str) -> Report:
    rep = Report(s.environment, STAGE)
    ids = [*TF_CHECKS, *[(i, t) for i, t, _ in ASSERTIONS], (policy.SUMMARY_ID, policy.SUMMARY_TITLE), *NET_CHECKS]
    rep.add(errored(i, t, reason) for i, t in ids)
    return rep


def _story_value(c: Ctx, cid: str, field: str, actual: Any) -> Check:
    """Compare with the story's value for this environment; say when an overlay moved the setting."""
    want, configured = getattr(c.base, field), getattr(c.s, field)
    detail = "" if actual == want else (
        f"Story 0.4 requires {field}={want} for {c.s.environment}; settings say {configured}")
    return compare(cid, TITLES[cid], want, actual, detail)


def _tf(v: Any) -> str:
    return "true" if v is True else "false" if v is False else str(v)
