"""AWS-side checks (boto3 through tenantdb.aws): the instance, its keys, its
parameter group and both application secrets, against the settings.

Each function takes the :class:`Context` and returns one Check; any AWS error
propagates and becomes ERROR (fail closed).
"""

from __future__ import annotations

import time
from typing import Any

from tenantdb.aws import SECRET_KEYS
from tenantdb.checks import title
from tenantdb.database.bootstrap import app_secrets
from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import sqlfiles
from tenantdb.report import Check, compare, failed, passed, skipped
from tenantdb.verify.context import Context
from tenantdb.verify.db_checks import ac1_server_version


def _verdict(id_: str, expected: str, actual: str, problems: list[str]) -> Check:
    if problems:
        return failed(id_, title(id_), expected, actual, "; ".join(problems))
    return passed(id_, title(id_), expected, actual)


def ac1_engine(ctx: Context) -> Check:
    s = ctx.settings
    inst = ctx.instance
    engine, version = inst.get("Engine"), str(inst.get("EngineVersion") or "")
    major = int(version.split(".")[0]) if version.split(".")[0].isdigit() else 0
    live_major, live_version = ac1_server_version(ctx)
    problems = []
    if engine != "postgres":
        problems.append(f"engine is {engine}, not postgres")
    if major < 15 or major < s.engine_major:
        problems.append(f"EngineVersion {version} is below {max(15, s.engine_major)}")
    if live_major < 15 or live_major != major:
        problems.append(f"the server reports {live_version}, not {major}.x")
    return _verdict("AC1", f"postgres {s.engine_major}+",
                    f"{engine} {version} (server {live_version})", problems)


def ac2_class(ctx: Context) -> Check:
    s = ctx.settings
    return compare("AC2", title("AC2"), s.instance_class, ctx.instance.get("DBInstanceClass"))


def _flag(ctx: Context, id_: str, want: bool, attribute: str) -> Check:
    """One of the instance's boolean attributes against the settings' value."""
    return compare(id_, title(id_), want, bool(ctx.instance.get(attribute)))


def ac3_multi_az(ctx: Context) -> Check:
    return _flag(ctx, "AC3", ctx.settings.multi_az, "MultiAZ")


def ac4_backups(ctx: Context) -> Check:
    s, inst = ctx.settings, ctx.instance
    want = {"BackupRetentionPeriod": s.backup_retention_days, "PreferredBackupWindow": s.backup_window,
            "PreferredMaintenanceWindow": s.maintenance_window}
    got = {k: inst.get(k) for k in want}
    problems = [f"{k} is {got[k]!r}, expected {v!r}" for k, v in want.items() if got[k] != v]
    fmt = lambda d: f"{d['BackupRetentionPeriod']} days, backups {d['PreferredBackupWindow']} UTC, " \
                    f"maintenance {d['PreferredMaintenanceWindow']} UTC"  # noqa: E731 - a one-line local helper reads better as a lambda
    return _verdict("AC4", fmt(want), fmt(got), problems)


def ac5_encryption(ctx: Context) -> Check:
    s, inst = ctx.settings, ctx.instance
    key = ctx.rds_key_arn
    problems = []
    if not inst.get("StorageEncrypted"):
        problems.append("StorageEncrypted is false")
    actual_key = inst.get("KmsKeyId") or ""
    if actual_key and ctx.key_arn(actual_key) != key:
        problems.append(f"encrypted with {actual_key}, not {s.kms_alias_rds}")
    elif not actual_key:
        problems.append("no KMS key on the instance")
    rotation = ctx.aws.kms.get_key_rotation_status(KeyId=key).get("KeyRotationEnabled")
    if not rotation:
        problems.append(f"automatic rotation of {s.kms_alias_rds} is off")
    return _verdict("AC5", f"StorageEncrypted, {s.kms_alias_rds}, rotation on",
                    f"StorageEncrypted={bool(inst.get('StorageEncrypted'))}, {actual_key or 'no key'}, "
                    f"rotation {'on' if rotation else 'off'}", problems)


def ac6_parameter_group(ctx: Context) -> Check:
    s, inst = ctx.settings, ctx.instance
    name = s.parameter_group_name
    groups = {g.get("DBParameterGroupName"): g.get("ParameterApplyStatus") for g in inst.get("DBParameterGroups", [])}
    problems = []
    if name not in groups:
        problems.append(f"{name} is not attached (attached: {', '.join(map(str, groups)) or 'none'})")
    elif groups[name] != "in-sync":
        problems.append(f"{name} is {groups[name]} (a reboot applies pending static parameters)")
    actual = _user_parameters(ctx, name) if name in groups else {}
    for pname, (value, _apply) in s.db_parameters.items():
        if pname not in actual:
            problems.append(f"{pname} not set in the group (declared {value})")
        elif actual[pname] != value:
            problems.append(f"{pname}={actual[pname]} in the group (declared {value})")
    extra = sorted(set(actual) - set(s.db_parameters))
    if extra:
        problems.append(f"set in the group but not declared: {', '.join(extra)}")
    return _verdict("AC6", f"{name} in-sync with {len(s.db_parameters)} declared parameters",
                    f"{name}: {groups.get(name, 'not attached')}, {len(actual)} user parameters", problems)


def _user_parameters(ctx: Context, group: str) -> dict[str, str]:
    pages = ctx.aws.rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=group, Source="user")
    return {p["ParameterName"]: str(p.get("ParameterValue")) for page in pages for p in page.get("Parameters", [])}


def ac9_secret(ctx: Context) -> Check:
    """The connection secret: encrypted with the secrets CMK, every key, consistent, and it logs in over TLS."""
    s = ctx.settings
    return _secret_check(ctx, "AC9", s.connection_secret_name, s.app_role)


def migrator_secret(ctx: Context) -> Check:
    """The migrator secret, held to the same rule as the connection secret (the same rotation changes it)."""
    s = ctx.settings
    return _secret_check(ctx, "SEC-MIGRATOR", s.migrator_secret_name, s.migrator_role)


def _secret_check(ctx: Context, id_: str, name: str, role: str) -> Check:
    s = ctx.settings
    expected = f"{s.kms_alias_secrets}; keys {', '.join(SECRET_KEYS)}, consistent; logs in as {role} over TLS"
    meta, cmk = ctx.secret_meta(name), ctx.secrets_key_arn  # the alias first: its ARN is then known
    problems = []
    key = meta.get("KmsKeyId")
    if not key:
        problems.append("encrypted with the AWS managed key, not the secrets CMK")
    elif ctx.key_arn(key) != cmk:
        problems.append(f"encrypted with {key}, not {s.kms_alias_secrets}")
    value = ctx.secret_value(name)
    if not value:
        problems.append("the secret has no value yet; run tenantdb bootstrap")
        return failed(id_, title(id_), expected, "no value", "; ".join(problems))
    missing = [k for k in SECRET_KEYS if k not in value]
    if missing:
        problems.append(f"missing key(s): {', '.join(missing)}")
    address = (ctx.instance.get("Endpoint") or {}).get("Address")
    problems += app_secrets.problems(value, host=address, port=s.port, dbname=s.db_name, role=role)
    login = "not tried"
    if {"host", "username", "password", "dbname"} <= value.keys():
        login = _login(ctx, name, role, problems)
    actual = f"keys {', '.join(k for k in SECRET_KEYS if k in value)}; login: {login}"
    return _verdict(id_, expected, actual, problems)


def _login(ctx: Context, name: str, role: str, problems: list[str]) -> str:
    try:
        target = ctx.login_target(name)
        conn = ctx.connect(role, target)
    except db.AuthError:
        problems.append(f"the secret's password does not log in as {role}; "
                        "run tenantdb bootstrap (it sets the role's password to the secret's)")
        return "refused"
    row = conn.execute(sqlfiles.named("session/whoami_tls")).fetchone()
    conn.rollback()
    if not row or row[0] != role:
        problems.append(f"logged in as {row[0] if row else '?'}, not {role}")
    if not row or not row[1]:
        problems.append(f"the {role} connection is not using TLS")
    return f"{target.describe()} over TLS" if row and row[1] else f"{target.describe()} WITHOUT TLS"


def not_public(ctx: Context) -> Check:
    return _flag(ctx, "PUBLIC-ACCESS", False, "PubliclyAccessible")


def deletion_protection(ctx: Context) -> Check:
    return _flag(ctx, "DELETION-PROTECTION", ctx.settings.deletion_protection, "DeletionProtection")


def performance_insights(ctx: Context) -> Check:
    s, inst = ctx.settings, ctx.instance
    problems = []
    if not inst.get("PerformanceInsightsEnabled"):
        problems.append("Performance Insights is off")
    retention = inst.get("PerformanceInsightsRetentionPeriod")
    if retention != s.performance_insights_retention_days:
        problems.append(f"retention is {retention}, expected {s.performance_insights_retention_days} days")
    key = inst.get("PerformanceInsightsKMSKeyId")
    if not key or ctx.key_arn(key) != ctx.rds_key_arn:
        problems.append(f"encrypted with {key or 'no key'}, not {s.kms_alias_rds}")
    return _verdict("PERF-INSIGHTS", f"on, {s.performance_insights_retention_days} days, {s.kms_alias_rds}",
                    f"{'on' if inst.get('PerformanceInsightsEnabled') else 'off'}, {retention} days, {key}", problems)


def enhanced_monitoring(ctx: Context) -> Check:
    s, inst = ctx.settings, ctx.instance
    interval, role = inst.get("MonitoringInterval"), inst.get("MonitoringRoleArn") or ""
    problems = []
    if interval != s.monitoring_interval_s:
        problems.append(f"interval is {interval}s, expected {s.monitoring_interval_s}s")
    if s.monitoring_interval_s and not role.endswith(f":role/{s.monitoring_role_name}"):
        problems.append(f"monitoring role is {role or 'none'}, expected {s.monitoring_role_name}")
    return _verdict("MONITORING", f"every {s.monitoring_interval_s}s as "
                    f"{s.monitoring_role_name}", f"every {interval}s as {role or 'no role'}", problems)


def log_exports(ctx: Context) -> Check:
    s = ctx.settings
    got = sorted(ctx.instance.get("EnabledCloudwatchLogsExports") or [])
    return compare("LOG-EXPORTS", title("LOG-EXPORTS"), sorted(s.log_exports), got)


# ----- rotation (Story 0.4 task 6.3) and cost safety ---------------------------------------------------------

ROTATION_TYPES = ("aws_serverlessapplicationrepository_cloudformation_stack", "aws_secretsmanager_secret_rotation")
OVERDUE_GRACE_S = 86400
"""A rotation may run up to a day after NextRotationDate (Secrets Manager's rotation window)."""


def rotation_app(ctx: Context) -> Check:
    """Connection and migrator secrets: rotation on, every secret_rotation_days, through the function,
    and the last rotation did not fail (no AWSPENDING version left beside AWSCURRENT, not overdue)."""
    s = ctx.settings
    id_ = "SEC-ROTATION-APP"
    expected = (f"rotation on, every {s.secret_rotation_days} d, function {s.rotation_function_name}, "
                "last one not failed")
    metas = {name: ctx.secret_meta(name) for name in (s.connection_secret_name, s.migrator_secret_name)}
    left_out = [t for t in ROTATION_TYPES if t in s.emulator_left_out]
    if left_out and not any(m.get("RotationEnabled") or m.get("RotationLambdaARN") for m in metas.values()):
        return skipped(id_, title(id_), f"emulator: left out for the emulator: {', '.join(left_out)} "
                       f"({s.emulator_left_out[left_out[0]]}); the stack is asserted by tenantdb check "
                       "SEC-ROTATION and the tests", expected)
    problems, actual = [], []
    for name, meta in metas.items():
        found = _rotation_problems(meta, s.secret_rotation_days, s.rotation_function_name)
        if left_out:  # the emulator cannot host the function: everything else is still checked
            found = [p for p in found if not p.startswith("rotation function is none")]
        problems += [f"{name}: {p}" for p in found]
        every = (meta.get("RotationRules") or {}).get("AutomaticallyAfterDays")
        actual.append(f"{name}: {'on' if meta.get('RotationEnabled') else 'off'}, "
                      f"{f'every {every} d' if every is not None else 'no schedule'}, "
                      f"{(meta.get('RotationLambdaARN') or 'no function').rsplit(':', 1)[-1]}")
    if left_out and not problems:  # rotated in-process by the tests (tests/rotation_function.py)
        return skipped(id_, title(id_), f"emulator: rotation on, every {s.secret_rotation_days} d, no rotation "
                       f"pending or failed; the function is left out for the emulator ({', '.join(left_out)})",
                       expected)
    return _verdict(id_, expected, "; ".join(actual), problems)


def _rotation_problems(meta: dict[str, Any], days: int, function: str) -> list[str]:
    problems = []
    if not meta.get("RotationEnabled"):
        problems.append("rotation is off")
    got_days = (meta.get("RotationRules") or {}).get("AutomaticallyAfterDays")
    if got_days is None:
        problems.append(f"no rotation schedule, expected every {days} days")
    elif got_days != days:
        problems.append(f"rotates every {got_days} days, expected {days}")
    arn = meta.get("RotationLambdaARN") or ""
    if not arn.endswith(f":function:{function}"):
        problems.append(f"rotation function is {arn or 'none'}, expected {function}")
    problems += _failed_rotation(meta)
    return problems


def _failed_rotation(meta: dict[str, Any]) -> list[str]:
    """What Secrets Manager leaves after a failed rotation: an AWSPENDING version that never became
    AWSCURRENT (the next RotateSecret is refused while it stays), or a rotation date long past."""
    stuck = [v for v, stages in (meta.get("VersionIdsToStages") or {}).items()
             if "AWSPENDING" in stages and "AWSCURRENT" not in stages]
    problems = [f"version {v[:8]} is stuck in AWSPENDING (the last rotation failed; see the function's "
                "CloudWatch logs)" for v in stuck]
    nxt = meta.get("NextRotationDate")
    if meta.get("RotationEnabled") and nxt is not None and nxt.timestamp() < time.time() - OVERDUE_GRACE_S:
        problems.append(f"rotation overdue since {nxt:%Y-%m-%d} (the last attempt failed or never ran)")
    return problems


def rotation_master(ctx: Context) -> Check:
    """The RDS-managed master secret keeps RDS's own rotation (managed rotation, no function)."""
    id_ = "SEC-ROTATION-MASTER"
    secret = (ctx.instance.get("MasterUserSecret") or {}).get("SecretArn")
    if not secret:
        return failed(id_, title(id_), "RDS-managed master secret", "none", "ManageMasterUserPassword is off")
    meta = ctx.aws.secrets.describe_secret(SecretId=secret)
    owner, on = meta.get("OwningService"), bool(meta.get("RotationEnabled"))
    actual = f"owned by {owner or 'nobody'}, rotation {'on' if on else 'off'}"
    if ctx.settings.aws_endpoint_url and owner == "rds" and not on:
        return skipped(id_, title(id_), "emulator: moto does not run RDS's managed rotation of the master "
                       f"secret ({actual}); on AWS RDS turns it on (every 7 days by default)",
                       "owned by rds, rotation on")
    problems = [] if owner == "rds" else [f"the secret is owned by {owner or 'nobody'}, not RDS"]
    problems += [] if on else ["rotation is off (RDS turns managed rotation on; someone cancelled it)"]
    problems += _failed_rotation(meta)
    return _verdict(id_, "owned by rds, rotation on", actual, problems)


def extended_support(ctx: Context) -> Check:
    """Cost safety: the instance opts out of paid RDS Extended Support as the settings say."""
    s = ctx.settings
    got = ctx.instance.get("EngineLifecycleSupport")
    return compare("EXTENDED-SUPPORT", title("EXTENDED-SUPPORT"), s.engine_lifecycle_support,
                   got or "not reported")
