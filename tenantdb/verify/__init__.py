"""`tenantdb verify`: prove every acceptance criterion against the live system.

The verifier is a list of checks, one function and one stable id each
(:data:`CHECKS`). AWS-side checks are SKIP with the reason under
``--master-dsn``; every check runs through :func:`tenantdb.report.run_check`,
so one that cannot run is ERROR, never PASS. The TLS check runs last: it
reports on every connection the others made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tenantdb.report import Check, Report, run_check, skipped
from tenantdb.settings import Settings
from tenantdb.verify import aws_checks, db_checks, isolation, posture, probe
from tenantdb.verify.context import Context

STAGE = "verify"


@dataclass(frozen=True)
class Spec:
    id: str
    title: str
    fn: Callable[[Context], Check]
    needs_aws: bool


CHECKS: tuple[Spec, ...] = (
    Spec("AC1", "PostgreSQL 15+ RDS instance", aws_checks.ac1_engine, True),
    Spec("AC2", "Instance class for the environment", aws_checks.ac2_class, True),
    Spec("AC3", "Multi-AZ as set for the environment", aws_checks.ac3_multi_az, True),
    Spec("AC4", "Automated backups: retention and windows", aws_checks.ac4_backups, True),
    Spec("AC5", "Encryption at rest with the RDS CMK, rotation on", aws_checks.ac5_encryption, True),
    Spec("AC6", "Parameter group attached, in sync, values as declared", aws_checks.ac6_parameter_group, True),
    Spec("AC6-LIVE", "Live parameter values as declared", db_checks.ac6_live, False),
    Spec("AC7", "Master database exists", db_checks.ac7_database, False),
    Spec("AC8", "app_user: no SUPERUSER/BYPASSRLS, schema creation", db_checks.ac8_app_user, False),
    Spec("AC9", "Connection secret: encrypted, complete, working", aws_checks.ac9_secret, True),
    Spec("AC10", isolation.TITLE, isolation.ac10_rls, False),
    Spec("NET-PRIVATE", "Not publicly accessible", aws_checks.not_public, True),
    Spec("DELETION-PROTECTION", "Deletion protection as set", aws_checks.deletion_protection, True),
    Spec("PERF-INSIGHTS", "Performance Insights on, retained, encrypted", aws_checks.performance_insights, True),
    Spec("MONITORING", "Enhanced Monitoring", aws_checks.enhanced_monitoring, True),
    Spec("LOG-EXPORTS", "CloudWatch log exports", aws_checks.log_exports, True),
    # issue 6: rotation of the application secrets and of the master secret; Extended Support opt-out.
    Spec("SEC-ROTATION-APP", "Connection and migrator secrets rotate through the rotation function",
         aws_checks.rotation_app, True),
    Spec("SEC-ROTATION-MASTER", "Master secret rotated by RDS (managed rotation)", aws_checks.rotation_master, True),
    Spec("EXTENDED-SUPPORT", "Extended Support opt-out (cost safety)", aws_checks.extended_support, True),
    # issue 5: the isolation posture (ISO-*, one catalog query) and the live probe (ISO-PROBE, ISO-PROBE-ROLE).
    Spec("ISO", "Tenant isolation posture", posture.iso_checks, False),  # type: ignore[arg-type]
    Spec("ISO-PROBE", probe.TITLE, probe.iso_probe, False),  # type: ignore[arg-type]
    Spec("TLS", "Connections use TLS; plaintext refused", db_checks.tls, False),
)


def run(s: Settings, *, endpoint: str | None = None, master_dsn: str | None = None) -> Report:
    """Every check against the environment; the report's exit_code is the CLI's."""
    if master_dsn is not None:
        from tenantdb.database.master import parse_master_dsn

        parse_master_dsn(master_dsn)  # a malformed DSN is a usage error (exit 2), not a failed check
    elif endpoint:
        from tenantdb.database.master import parse_endpoint

        parse_endpoint(endpoint)
    ctx = Context(s, endpoint=endpoint, master_dsn=master_dsn)
    report = Report(s.environment, STAGE)
    try:
        for spec in CHECKS:
            if spec.needs_aws and not ctx.via_aws:
                report.add(skipped(spec.id, spec.title, "--master-dsn: AWS not consulted"))
                continue
            report.add(run_check(spec.id, spec.title, lambda spec=spec: spec.fn(ctx)))
    finally:
        ctx.close()
    return report
