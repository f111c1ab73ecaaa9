"""The RDS PostgreSQL instance (AC1-AC5, tasks 1, 2 and 4).

Always encrypted, private and with a managed master password; every prop comes
from the settings (the database stack sets each one), so no prop has a default
of its own to disagree with the settings' (Story 0.4's values).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stacks.cdk import Construct, DbInstance, Fn, TerraformElement, TerraformResource, named

STAMP_FORMAT = "YYYYMMDDhhmmss"
"""The final snapshot's suffix: the UTC time its stamp was created (Terraform's formatdate)."""


@dataclass(frozen=True)
class InstanceProps:
    identifier: str
    """``<project>-db-<env>``: the name plans, runbooks and the verifier look up."""
    instance_class: str
    """Instance class (AC2); its memory sizes shared_buffers (AC6)."""
    engine_version: str
    """The major version; RDS picks the latest minor (AC1)."""
    storage_kms_key_arn: str
    """Storage and Performance Insights encryption (AC5)."""
    master_secret_kms_key_arn: str
    """Encrypts the RDS-managed master secret: no master password in Terraform state."""
    parameter_group_name: str
    """The custom parameter group (AC6, task 3)."""
    subnet_group_name: str
    """The network layer's DB subnet group (Story 0.2, task 1.1)."""
    security_group_ids: Sequence[str]
    """The network layer's RDS security group (task 4.1)."""
    monitoring_role_arn: str
    """Enhanced Monitoring's role (task 4.4)."""
    db_name: str
    """The master database (AC7)."""
    master_username: str
    """Not a default name (Security Hub RDS.25, task 5.1)."""
    port: int
    """Listener port (Story 0.4 connection string)."""
    multi_az: bool
    """Multi-AZ standby (AC3)."""
    storage_type: str
    """Storage type (task 1.6)."""
    allocated_storage_gb: int
    """Initial storage (Story 0.4 instance sizing)."""
    storage_iops: int | None
    """gp3 provisioned IOPS, or None for gp3's baseline (task 1.6); passed only when set."""
    storage_throughput_mibps: int | None
    """gp3 provisioned throughput in MiB/s, or None for gp3's baseline (task 1.6); passed only when set."""
    max_allocated_storage_gb: int
    """Storage autoscaling ceiling (task 1.6)."""
    backup_retention_days: int
    """Automated backup retention (AC4, task 2.1)."""
    backup_window: str
    """Daily backup window, UTC (AC4, task 2.2)."""
    maintenance_window: str
    """Weekly maintenance window, UTC (task 2.3)."""
    deletion_protection: bool
    """Deletion protection (task 2.4)."""
    final_snapshot: bool
    """A final snapshot on delete (task 2.4)."""
    performance_insights_retention_days: int
    """Performance Insights retention, encrypted with the storage key (task 4.3)."""
    monitoring_interval_s: int
    """Enhanced Monitoring granularity (task 4.4)."""
    log_exports: Sequence[str]
    """CloudWatch log exports (task 4, checkov CKV_AWS_129)."""
    ca_cert_identifier: str
    """Server certificate authority (checkov CKV_AWS_211)."""
    iam_database_authentication: bool
    """IAM database authentication (checkov CKV_AWS_161)."""
    auto_minor_version_upgrade: bool
    """Minor versions applied in the maintenance window (checkov CKV_AWS_226)."""
    copy_tags_to_snapshot: bool
    """Tags copied to snapshots (checkov CKV2_AWS_60)."""
    engine_lifecycle_support: str
    """Out of paid RDS Extended Support (cost safety)."""
    depends_on: Sequence[TerraformElement]
    """The log groups, so RDS never creates them unencrypted first."""

    def replacing_inputs(self) -> dict[str, str]:
        """What renews the final snapshot's stamp: the inputs whose change replaces the instance (the
        provider's ForceNew arguments it sets: key, database name, master user) and its identifier (a
        rename, in place, which the name carries)."""
        return {"identifier": self.identifier, "kms_key_id": self.storage_kms_key_arn, "db_name": self.db_name,
                "username": self.master_username}


class Instance(Construct):
    def __init__(self, scope: Construct, id_: str, props: InstanceProps):
        super().__init__(scope, id_)
        p = props
        self.snapshot_stamp = _snapshot_stamp(self, p) if p.final_snapshot else None
        self.db = named(DbInstance(
            self, "db",
            identifier=p.identifier,
            engine="postgres",
            engine_version=p.engine_version,
            engine_lifecycle_support=p.engine_lifecycle_support,
            auto_minor_version_upgrade=p.auto_minor_version_upgrade,
            instance_class=p.instance_class,
            multi_az=p.multi_az,
            storage_type=p.storage_type,
            allocated_storage=p.allocated_storage_gb,
            iops=p.storage_iops,
            storage_throughput=p.storage_throughput_mibps,
            max_allocated_storage=p.max_allocated_storage_gb,
            storage_encrypted=True,
            kms_key_id=p.storage_kms_key_arn,
            db_name=p.db_name,
            username=p.master_username,
            manage_master_user_password=True,
            master_user_secret_kms_key_id=p.master_secret_kms_key_arn,
            port=p.port,
            parameter_group_name=p.parameter_group_name,
            db_subnet_group_name=p.subnet_group_name,
            vpc_security_group_ids=list(p.security_group_ids),
            publicly_accessible=False,
            ca_cert_identifier=p.ca_cert_identifier,
            iam_database_authentication_enabled=p.iam_database_authentication,
            backup_retention_period=p.backup_retention_days,
            backup_window=p.backup_window,
            maintenance_window=p.maintenance_window,
            copy_tags_to_snapshot=p.copy_tags_to_snapshot,
            deletion_protection=p.deletion_protection,
            skip_final_snapshot=not p.final_snapshot,
            final_snapshot_identifier=(f"{p.identifier}-final-{self.snapshot_stamp.get_string_attribute('output')}"
                                       if self.snapshot_stamp else None),
            performance_insights_enabled=True,
            performance_insights_kms_key_id=p.storage_kms_key_arn,
            performance_insights_retention_period=p.performance_insights_retention_days,
            monitoring_interval=p.monitoring_interval_s,
            monitoring_role_arn=p.monitoring_role_arn if p.monitoring_interval_s else None,
            enabled_cloudwatch_logs_exports=list(p.log_exports),
            depends_on=list(p.depends_on) or None,
        ), "db")

    @property
    def master_secret_arn(self) -> str:
        return self.db.master_user_secret.get(0).secret_arn


def _snapshot_stamp(scope: Construct, p: InstanceProps) -> TerraformResource:
    """``terraform_data.final_snapshot_stamp``: the time the instance's lifetime began, captured once.

    A fixed final snapshot name (``<id>-final``) makes the second destroy of a re-created instance fail
    (DBSnapshotAlreadyExists, Story 0.4 AC4). The stamp's input is ``timestamp()``, ignored after
    creation, so a plan never shows a diff; it is created and destroyed with the stack, and replaced
    with the instance when an input that replaces (or renames) the instance changes (``triggers_replace``;
    the stamp's ``replace_triggered_by`` naming the instance is a cycle, since the instance reads the stamp).
    A deliberate ``-replace`` of the instance names the stamp too (docs/runbook.md).

    Terraform's built-in ``terraform_data`` (no provider); a generic resource with overrides, because
    stacks/cdk.py does not re-export cdktf's ``DataResource`` binding.
    """
    stamp = named(TerraformResource(scope, "final-snapshot-stamp", terraform_resource_type="terraform_data"),
                  "final_snapshot_stamp")
    stamp.add_override("input", Fn.formatdate(STAMP_FORMAT, Fn.timestamp()))
    stamp.add_override("triggers_replace", p.replacing_inputs())
    stamp.add_override("lifecycle.ignore_changes", ["input"])
    return stamp
