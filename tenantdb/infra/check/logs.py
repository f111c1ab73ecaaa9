"""Assertions about the log groups (stacks/logs.py): exports into groups encrypted with
the RDS CMK and retained, created before the instance."""

from __future__ import annotations

from tenantdb.infra.check.context import Ctx, title
from tenantdb.report import Check, failed, passed

ID = "LOG-EXPORTS"


def log_exports(c: Ctx) -> Check:
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
    return (failed(ID, title(ID), expected, "; ".join(problems), "; ".join(problems)) if problems
            else passed(ID, title(ID), expected, f"{len(c.s.log_group_names)} log groups as expected"))
