"""The one registry of checks: every control `tenantdb check` (offline) and `tenantdb verify`
(live) report, declared once.

A row is a :class:`Control`: its stable report id, one title (the same in every stage and
format, skipped or run), the requirement it serves in words, and the function of each stage
that proves it, as a ``"module:function"`` string resolved lazily by :func:`load`. This
module imports only the report (the ground floor), so ``--list`` is instant and needs no settings.

To add a check: write its function in your own module (check stage: takes the check
context, ``tenantdb.infra.check.context.Ctx``; verify stage: takes
``tenantdb.verify.context.Context``; both return a ``report.Check`` or a list of them),
then add ONE row below, in the section for its area. A function reports its id and takes the
title from here (:func:`title`): no module keeps a title of its own. A function that reports
several ids (``posture:iso_checks`` reports every ISO-*) is registered on one row; each id it
reports gets its own row with ``part_of`` naming that row. The runner fails closed through
:func:`tenantdb.report.run_check` (the one fail-closed path): an exception, or anything but
checks returned, is ERROR; an id the registry does not know is ERROR naming it; a registered
id its stage never reported is ERROR (unless the row is ``optional``: reported only where it
applies); and every check it returns carries the registry's title.

Report order is the order of the rows, per stage.

Example::

    Control("AC5", "Storage encrypted with the RDS CMK", "Story 0.4 AC5",
            check="tenantdb.infra.check.instance:ac5_encryption",
            verify="tenantdb.verify.aws_checks:ac5_encryption", needs_aws=True)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from tenantdb import report

STAGES = ("check", "verify")


@dataclass(frozen=True)
class Control:
    id: str
    """Stable report id, e.g. ``AC5``: a contract, never renamed."""
    title: str
    """One line, the same in every stage and format."""
    requirement: str
    """What it serves, in words: "Story 0.4 AC5", "checkov CKV_AWS_133", "AWS Security Hub RDS.25"."""
    check: str | None = None
    """``module:function`` of the offline assertion over the synthesized JSON, if any."""
    verify: str | None = None
    """``module:function`` of the live check, if any."""
    needs_aws: bool = False
    """verify: SKIP with the reason under ``--master-dsn`` (AWS is not consulted)."""
    part_of: str | None = None
    """Reported by that control's function (ISO-RLS is produced by ISO's); no function of its own."""
    optional: bool = False
    """Reported only where it applies (the network stand-in exists, the access stack is on)."""

    @property
    def stages(self) -> tuple[str, ...]:
        if self.part_of:
            return get(self.part_of).stages
        return tuple(st for st in STAGES if getattr(self, st))


REGISTRY: tuple[Control, ...] = (
    # ----- terraform: init and validate of the synthesized database stack -----
    Control("TF-INIT", "terraform init (offline, provider mirror)",
            "Story 0.4: the stack initialises against the pinned provider mirror",
            check="tenantdb.infra.check.terraform_checks:database_stack"),
    Control("TF-VALIDATE", "terraform validate", "Story 0.4: the synthesized stack is valid Terraform",
            part_of="TF-INIT"),
    # ----- instance -----
    Control("AC1", "PostgreSQL 15+ engine", "Story 0.4 AC1",
            check="tenantdb.infra.check.instance:ac1_engine",
            verify="tenantdb.verify.aws_checks:ac1_engine", needs_aws=True),
    Control("AC2", "Instance class for the environment", "Story 0.4 AC2",
            check="tenantdb.infra.check.instance:ac2_class",
            verify="tenantdb.verify.aws_checks:ac2_class", needs_aws=True),
    Control("AC3", "Multi-AZ for production", "Story 0.4 AC3",
            check="tenantdb.infra.check.instance:ac3_multi_az",
            verify="tenantdb.verify.aws_checks:ac3_multi_az", needs_aws=True),
    Control("AC4", "Automated backups: retention and 03:00 UTC window", "Story 0.4 AC4",
            check="tenantdb.infra.check.instance:ac4_backups",
            verify="tenantdb.verify.aws_checks:ac4_backups", needs_aws=True),
    Control("AC5", "Storage encrypted with the RDS CMK", "Story 0.4 AC5",
            check="tenantdb.infra.check.instance:ac5_encryption",
            verify="tenantdb.verify.aws_checks:ac5_encryption", needs_aws=True),
    Control("AC6", "Custom parameter group with the story's values", "Story 0.4 AC6",
            check="tenantdb.infra.check.parameter_group:ac6_parameters",
            verify="tenantdb.verify.aws_checks:ac6_parameter_group", needs_aws=True),
    Control("AC6-LIVE", "Live parameter values as declared", "Story 0.4 AC6 (values in force on the server)",
            verify="tenantdb.verify.db_checks:ac6_live"),
    # ----- database -----
    Control("AC7", "Master database exists", "Story 0.4 AC7",
            verify="tenantdb.verify.db_checks:ac7_database"),
    Control("AC8", "app_user: no SUPERUSER/BYPASSRLS, schema creation", "Story 0.4 AC8",
            verify="tenantdb.verify.db_checks:ac8_app_user"),
    Control("EXTENSIONS", "Extensions from settings: offered by RDS, installed",
            "Story 0.4 task 3.6 (pg_stat_statements); the multi-tenant migrations README (uuid-ossp, "
            "pgcrypto, citext, btree_gist, vector)",
            check="tenantdb.infra.check.protection:extensions", verify="tenantdb.verify.extensions:extensions"),
    Control("EXTENSIONS-STANDIN", "Extensions the local stand-in cannot have (not proven here)",
            "the multi-tenant migrations README (vector: pgvector 0.5+)", part_of="EXTENSIONS", optional=True),
    # ----- secrets & rotation -----
    Control("AC9", "Connection secret: encrypted with the secrets CMK, no value in Terraform, working",
            "Story 0.4 AC9",
            check="tenantdb.infra.check.secrets:ac9_secret",
            verify="tenantdb.verify.aws_checks:ac9_secret", needs_aws=True),
    # ----- isolation -----
    Control("AC10", "Row-level security proven as app_user (rolled back)", "Story 0.4 AC10",
            verify="tenantdb.verify.isolation:ac10_rls"),
    # ----- secrets & rotation (continued) -----
    Control("SEC-NO-PASSWORD", "No password in Terraform; RDS-managed master secret",
            "Story 0.4 AC9 (no secret in Terraform state); checkov CKV_AWS_388",
            check="tenantdb.infra.check.secrets:no_password"),
    Control("SEC-MIGRATOR", "Migrator secret encrypted with the secrets CMK, complete, working",
            "Story 0.4 AC9 (every application secret under the secrets CMK, consistent through a rotation)",
            check="tenantdb.infra.check.secrets:migrator",
            verify="tenantdb.verify.aws_checks:migrator_secret", needs_aws=True),
    Control("SEC-ROTATION-APP", "Connection and migrator secrets rotate through AWS's single-user function",
            "AWS Secrets Manager rotation; checkov CKV2_AWS_57",
            check="tenantdb.infra.check.rotation:app_secrets",
            verify="tenantdb.verify.aws_checks:rotation_app", needs_aws=True),
    Control("SEC-ROTATION-MASTER", "Master secret rotated by RDS (managed rotation)",
            "AWS RDS managed master user password rotation",
            verify="tenantdb.verify.aws_checks:rotation_master", needs_aws=True),
    Control("SEC-CONTEXT-KEY", "Context key secret: secrets CMK, not in Terraform, read by IRSA, rotated",
            "Story 0.4 Red Team requirements (signed tenant context); Story 0.4 AC9 (secrets under the secrets CMK)",
            check="tenantdb.infra.check.context_key:context_key_secret",
            verify="tenantdb.verify.signed_context:context_key", needs_aws=True),
    # ----- instance (continued) -----
    Control("EXTENDED-SUPPORT", "Extended Support opt-out set explicitly (cost safety)",
            "AWS RDS Extended Support: opt out explicitly (cost safety)",
            check="tenantdb.infra.check.instance:extended_support",
            verify="tenantdb.verify.aws_checks:extended_support", needs_aws=True),
    # ----- network -----
    Control("NET-LOOKUP", "Subnet group and security group looked up from SSM",
            "Story 0.4: the network comes from Story 0.2's SSM parameters",
            check="tenantdb.infra.check.network:lookup"),
    Control("PUBLIC-ACCESS", "Not publicly accessible", "AWS Security Hub RDS.2; checkov CKV_AWS_17",
            check="tenantdb.infra.check.network:public_access",
            verify="tenantdb.verify.aws_checks:not_public", needs_aws=True),
    # ----- instance (continued) -----
    Control("DELETION-PROTECTION", "Deletion protection", "AWS Security Hub RDS.8; checkov CKV_AWS_293",
            check="tenantdb.infra.check.instance:deletion_protection",
            verify="tenantdb.verify.aws_checks:deletion_protection", needs_aws=True),
    Control("FINAL-SNAPSHOT", "Final snapshot on delete", "Story 0.4 AC4 (backups survive a delete)",
            check="tenantdb.infra.check.instance:final_snapshot"),
    Control("PREVENT-DESTROY", "Instance, keys, secrets, parameter group: prevent_destroy as set",
            "Story 0.4 AC3, AC4 (prod survives an accidental destroy); docs/runbook.md deliberate replacement",
            check="tenantdb.infra.check.protection:prevent_destroy"),
    Control("STORAGE", "Storage type and autoscaling", "Story 0.4: storage type, size and autoscaling limit",
            check="tenantdb.infra.check.instance:storage"),
    Control("MAINTENANCE-WINDOW", "Maintenance window Sun 04:00-05:00 UTC",
            "Story 0.4: maintenance window after the backup window",
            check="tenantdb.infra.check.instance:maintenance"),
    # ----- logs & monitoring -----
    Control("PERF-INSIGHTS", "Performance Insights on, retained, encrypted with the RDS CMK",
            "checkov CKV_AWS_353, CKV_AWS_354",
            check="tenantdb.infra.check.monitoring:performance_insights",
            verify="tenantdb.verify.aws_checks:performance_insights", needs_aws=True),
    Control("MONITORING", "Enhanced Monitoring interval and role", "checkov CKV_AWS_118",
            check="tenantdb.infra.check.monitoring:enhanced_monitoring",
            verify="tenantdb.verify.aws_checks:enhanced_monitoring", needs_aws=True),
    Control("LOG-EXPORTS", "CloudWatch log exports to encrypted, retained groups",
            "checkov CKV_AWS_129, CKV_AWS_158, CKV_AWS_338",
            check="tenantdb.infra.check.logs:log_exports",
            verify="tenantdb.verify.aws_checks:log_exports", needs_aws=True),
    Control("MON-ALARMS", "Alarms: storage, memory, connections, CPU, latency, queue depth, transaction ids",
            "Story 0.4 task 4.3 monitoring (someone is told before storage, memory, connections or "
            "transaction ids run out)",
            check="tenantdb.infra.check.alarms:alarms", verify="tenantdb.verify.alarms:alarms", needs_aws=True),
    Control("MON-TOPIC", "Alarm topic encrypted with its own CMK; only CloudWatch and RDS events publish",
            "Story 0.4 task 4.3 monitoring; Story 0.4 AC5 (encrypted at rest)",
            check="tenantdb.infra.check.alarms:topic", verify="tenantdb.verify.alarms:topic", needs_aws=True),
    Control("MON-EVENTS", "RDS events (failover, low storage, maintenance, configuration) to the topic",
            "Story 0.4 task 4.4 monitoring",
            check="tenantdb.infra.check.alarms:events", verify="tenantdb.verify.alarms:events", needs_aws=True),
    # ----- kms -----
    Control("KMS", "KMS keys", "Story 0.4 AC5, AC9: the CMKs behind storage and secrets",
            check="tenantdb.infra.check.kms:keys"),
    Control("KMS-ROTATION", "KMS key rotation on both CMKs", "checkov CKV_AWS_7", part_of="KMS"),
    Control("KMS-SEPARATE", "Secrets Manager has its own CMK", "Story 0.4 AC9 (secrets under their own CMK)",
            part_of="KMS"),
    Control("KMS-POLICY", "Explicit key policies, no wildcard principal", "checkov CKV_AWS_33, CKV2_AWS_64",
            part_of="KMS"),
    # ----- iam -----
    Control("IRSA", "IRSA policy reads only the connection secret",
            "Story 0.4 AC9 (the application reads its secret, nothing more)",
            check="tenantdb.infra.check.iam:irsa"),
    # ----- terraform state, provider, outputs -----
    Control("BACKEND", "Terraform state backend", "Story 0.4: state in encrypted, locked S3",
            check="tenantdb.infra.check.backend:state_backend"),
    Control("PROVIDER", "AWS provider region and endpoints", "Story 0.4: the AWS provider targets the region",
            check="tenantdb.infra.check.backend:provider"),
    Control("OUTPUTS", "Stack outputs", "Story 0.4: outputs the bootstrap and applications read",
            check="tenantdb.infra.check.backend:outputs"),
    # ----- policy gate (checkov; its own CKV_* ids are reported under POLICY) -----
    Control("POLICY", "checkov policy scan (offline), exceptions in policy/checkov.toml",
            "checkov AWS rules over the synthesized stack", check="tenantdb.infra.check.policy:scan"),
    Control("SH-RDS.25", "Security Hub RDS.25: custom master username", "AWS Security Hub RDS.25",
            part_of="POLICY"),
    Control("SH-RDS.23", "Security Hub RDS.23: non-default port", "AWS Security Hub RDS.23", part_of="POLICY"),
    # ----- network stand-in (only where AWS is an emulator) -----
    Control("NET-STANDIN", "Network stand-in only where AWS is an emulator",
            "Story 0.2 owns the network; a stand-in only for the emulator",
            check="tenantdb.infra.check.network:standin"),
    Control("NET-TF-INIT", "terraform init of the network stand-in", "the stand-in is valid Terraform",
            part_of="NET-STANDIN", optional=True),
    Control("NET-TF-VALIDATE", "terraform validate of the network stand-in", "the stand-in is valid Terraform",
            part_of="NET-STANDIN", optional=True),
    # ----- access stack -----
    Control("ACCESS-STACK", "Access stack: roles without passwords or superpowers (JSON)",
            "Story 0.4 AC8 (roles without SUPERUSER or BYPASSRLS, no password in Terraform)",
            check="tenantdb.infra.check.access:access_stack", optional=True),
    Control("ACCESS-TF-VALIDATE", "terraform validate of the access stack", "the access stack is valid Terraform",
            part_of="ACCESS-STACK", optional=True),
    # ----- isolation (posture: one catalog query reports every ISO-*) -----
    Control("ISO", "Tenant isolation posture", "Story 0.4 AC10: the catalog allows no way around RLS",
            verify="tenantdb.verify.posture:iso_checks"),
    Control("ISO-RLS", "Tenant tables: RLS enabled, forced, tenant policy", "Story 0.4 AC10", part_of="ISO"),
    Control("ISO-PARTITION", "Every partition of a tenant table isolated", "Story 0.4 AC10", part_of="ISO"),
    Control("ISO-OWNER", "No tenant table or schema owned by app_user", "Story 0.4 AC10", part_of="ISO"),
    Control("ISO-GRANTS", "app_user holds DML only on tenant tables", "Story 0.4 AC8, AC10", part_of="ISO"),
    Control("ISO-WRITE", "app_user writes no tenant-schema table without RLS, nothing on version tables",
            "Story 0.4 AC10", part_of="ISO"),
    Control("ISO-PERMISSIVE", "No always-true policy for app_user", "Story 0.4 AC10", part_of="ISO"),
    Control("ISO-VIEW", "Views over tenant tables are security_invoker", "Story 0.4 AC10", part_of="ISO"),
    Control("ISO-PINS", "Nothing outside a tenant schema depends on it", "Story 0.4 AC10", part_of="ISO"),
    Control("ISO-SUPERUSER", "No SUPERUSER/BYPASSRLS but the master and AWS's own", "Story 0.4 AC8",
            part_of="ISO"),
    Control("ISO-MEMBERSHIP", "app_user not a member of migrator, master, platform_admin", "Story 0.4 AC8",
            part_of="ISO"),
    Control("ISO-SECDEF", "SECURITY DEFINER functions pin search_path",
            "PostgreSQL documentation: writing SECURITY DEFINER functions safely", part_of="ISO"),
    Control("ISO-PUBLIC-CREATE", "PUBLIC has no CREATE on schema public", "PostgreSQL CVE-2018-1058",
            part_of="ISO"),
    Control("ISO-CVE", "Engine minor carries the row-security CVE fixes", "PostgreSQL CVE-2025-8713",
            part_of="ISO"),
    Control("ISO-POLICY-EXACT", "Every tenant-table policy is exactly the generated one",
            "Story 0.4 Red Team requirements: no policy but the toolkit's on tenant tables", part_of="ISO"),
    Control("ISO-ROLE-SETTINGS", "No per-role settings on the application roles",
            "Story 0.4 Red Team requirements: no persistent hooks in app_user's sessions", part_of="ISO"),
    Control("ISO-BUILTIN-ROLES", "No application role holds a powerful built-in role", "Story 0.4 AC8",
            part_of="ISO"),
    Control("ISO-SECDEF-EXEC", "No SECURITY DEFINER function app_user can run but the toolkit's",
            "PostgreSQL documentation: writing SECURITY DEFINER functions safely", part_of="ISO"),
    Control("ISO-TROJAN", "No trojan surface in app_user's schemas", "PostgreSQL CVE-2018-1058 (search_path)",
            part_of="ISO"),
    Control("ISO-STATS", "Statement statistics not readable by app_user",
            "Story 0.4 task 3.6 (pg_stat_statements) without cross-tenant statement text", part_of="ISO"),
    Control("ISO-ID-LEAK", "No tenant id in catalog text", "Story 0.4 AC10: tenant ids stay in their session",
            part_of="ISO"),
    Control("ISO-SEQUENCE", "app_user cannot read or set tenant sequences", "Story 0.4 AC10", part_of="ISO"),
    # ----- isolation (live probe as app_user) -----
    Control("ISO-PROBE", "Tenant isolation probed live as app_user (rolled back)", "Story 0.4 AC10",
            verify="tenantdb.verify.probe:iso_probe"),
    Control("ISO-PROBE-ROLE", "app_user cannot SET ROLE to privileged roles", "Story 0.4 AC8",
            part_of="ISO-PROBE"),
    Control("ISO-SIGNED", "Signed tenant context: forged contexts read and write nothing; key unreadable",
            "Story 0.4 Red Team requirements (app_user's SQL may be hostile)",
            verify="tenantdb.verify.signed_context:iso_signed"),
    # ----- connections (TLS runs last: it reports on every connection the others made) -----
    Control("TLS", "Connections use TLS; plaintext refused", "Story 0.4 AC9 (TLS to the instance); rds.force_ssl",
            verify="tenantdb.verify.db_checks:tls"),
)

MERGED_ALIASES: dict[str, str] = {
    "NET-PRIVATE": "PUBLIC-ACCESS", "PI": "PERF-INSIGHTS", "LOGS": "LOG-EXPORTS", "SEC-ROTATION": "SEC-ROTATION-APP",
}
"""Ids an older report used -> the one id of the control now (docs/runbook.md lists them)."""

OPEN_IDS: dict[str, str] = {"POLICY": "CKV"}
"""Rows whose function also reports ids the registry cannot list: checkov's own check ids
(``CKV_AWS_157``, ``CKV2_AWS_57``; titled with checkov's name) start with this prefix."""

_BY_ID: dict[str, Control] = {c.id: c for c in REGISTRY}


def get(id: str) -> Control:
    """The control with this id; KeyError names an unknown id."""
    try:
        return _BY_ID[id]
    except KeyError:
        raise KeyError(f"no control {id!r} in tenantdb/checks.py") from None


def title(id: str) -> str:
    """The control's one title: what every check function reports under ``id``."""
    return get(id).title


def stage(name: str) -> list[Control]:
    """The controls of ``"check"`` or ``"verify"``, in report order."""
    if name not in STAGES:
        raise ValueError(f"stage {name!r}: choose one of {', '.join(STAGES)}")
    return [c for c in REGISTRY if name in c.stages]


def parts(id: str) -> list[Control]:
    """The controls reported by ``id``'s function besides ``id`` itself."""
    return [c for c in REGISTRY if c.part_of == id]


def load(ref: str) -> Callable[..., Any]:
    """Resolve ``"module:function"`` (imported on first use, so listing stays instant)."""
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)


def run(name: str, call: Callable[[Callable[..., Any]], Any], *, errored: Callable[..., Any] = report.errored,
        skipped: Callable[..., Any] = report.skipped,
        skip: Callable[[Control], str | None] = lambda c: None) -> list[Any]:
    """Run every control of stage ``name`` in report order and fail closed; the checks it returns
    carry the registry's titles. ``call(fn)`` runs one stage function with the stage's context,
    through :func:`tenantdb.report.run_check`; ``skip(control)`` gives a reason to SKIP a control
    (and its parts) without running it; ``errored``/``skipped`` build those lines (report's)."""
    out: list[Any] = []
    for c in (c for c in stage(name) if getattr(c, name)):
        family = [c, *(p for p in parts(c.id) if name in p.stages)]
        reason = skip(c)
        if reason:
            out += [skipped(m.id, m.title, reason) for m in family if not m.optional]
            continue
        ref = getattr(c, name)
        got = report.run_check(c.id, c.title, lambda ref=ref: call(load(ref)), what=ref)
        seen = {g.id for g in got}
        out += [_titled(g, c, errored) for g in got]
        reported = c.id in seen or any(p.id in seen for p in family[1:])
        out += [errored(m.id, m.title, f"never reported by {ref}")
                for m in family if m.id not in seen and not m.optional and (m is not c or not reported)]
    return out


def _titled(check: Any, c: Control, errored: Callable[..., Any]) -> Any:
    """The check with its control's title; ERROR for an id this control may not report."""
    own = _BY_ID.get(check.id)
    if own is not None and (own.id == c.id or own.part_of == c.id):
        return replace(check, title=own.title)
    if own is None and c.id in OPEN_IDS and check.id.startswith(OPEN_IDS[c.id]):
        return check
    return errored(check.id, own.title if own else "not in the registry",
                   f"{c.id}'s function reported {check.id}, which tenantdb/checks.py does not register"
                   + (f" under {c.id}" if own else ""))
