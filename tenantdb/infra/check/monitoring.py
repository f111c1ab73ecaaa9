"""Assertions about monitoring (stacks/monitoring.py, stacks/instance.py): Performance
Insights and Enhanced Monitoring with its role."""

from __future__ import annotations

from tenantdb.infra.check.context import Ctx, title
from tenantdb.infra.check.reader import parse_ref, ref
from tenantdb.report import Check, failed, passed

MONITORING_SERVICE = "monitoring.rds.amazonaws.com"
MONITORING_POLICY_SUFFIX = ":policy/service-role/AmazonRDSEnhancedMonitoringRole"


def performance_insights(c: Ctx) -> Check:
    i = c.instance
    key = c.key_arn(c.s.kms_alias_rds)
    expected = f"enabled, {c.s.performance_insights_retention_days} d, kms {key}"
    actual = (f"{'enabled' if i.get('performance_insights_enabled') is True else 'disabled'}, "
              f"{i.get('performance_insights_retention_period')} d, kms {i.get('performance_insights_kms_key_id')}")
    ok = (expected == actual and
          c.s.performance_insights_retention_days >= c.base.performance_insights_retention_days)
    return (passed if ok else failed)("PERF-INSIGHTS", title("PERF-INSIGHTS"), expected, actual)


def enhanced_monitoring(c: Ctx) -> Check:
    i, t = c.instance, title("MONITORING")
    role_ref = parse_ref(i.get("monitoring_role_arn"))
    if not role_ref or role_ref[1] != "aws_iam_role":
        return failed("MONITORING", t, "a monitoring role of this stack", i.get("monitoring_role_arn"))
    role = c.db.resources("aws_iam_role")[role_ref[2]]
    trust = c.db.policy_doc(role.get("assume_role_policy"))
    services = {ident for st in trust.get("statement", []) for p in st.get("principals", [])
                if p.get("type") == "Service" for ident in p.get("identifiers", [])}
    attached = [a.get("policy_arn", "") for a in c.db.resources("aws_iam_role_policy_attachment").values()
                if a.get("role") == ref("aws_iam_role", role_ref[2], "name")]
    expected = (f"{c.s.monitoring_interval_s} s, role trusted by {MONITORING_SERVICE} "
                "with AmazonRDSEnhancedMonitoringRole")
    actual = (f"{i.get('monitoring_interval')} s, role trusted by {', '.join(sorted(services)) or 'nobody'}"
              f" with {', '.join(a.rsplit('/', 1)[-1] for a in attached) or 'no policy'}")
    ok = (i.get("monitoring_interval") == c.s.monitoring_interval_s == c.base.monitoring_interval_s
          and services == {MONITORING_SERVICE}
          and any(a.endswith(MONITORING_POLICY_SUFFIX) for a in attached))
    return (passed if ok else failed)("MONITORING", t, expected, actual)
