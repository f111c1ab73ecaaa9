"""The RDS PostgreSQL instance (AC1-AC5, tasks 1, 2 and 4).

Defaults are the safe ones (encrypted, private, deletion-protected, final
snapshot, managed master password); the database stack sets every field from
the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stacks.cdk import Construct, DbInstance, TerraformElement, named


@dataclass(frozen=True)
class InstanceProps:
    identifier: str
    instance_class: str
    engine_version: str
    """The major version; RDS picks the latest minor (AC1)."""
    storage_kms_key_arn: str
    """Storage and Performance Insights encryption (AC5)."""
    master_secret_kms_key_arn: str
    """Encrypts the RDS-managed master secret: no master password in Terraform state."""
    parameter_group_name: str
    subnet_group_name: str
    security_group_ids: Sequence[str]
    monitoring_role_arn: str
    db_name: str
    master_username: str
    port: int = 5432
    multi_az: bool = True
    storage_type: str = "gp3"
    allocated_storage_gb: int = 20
    max_allocated_storage_gb: int = 100
    backup_retention_days: int = 7
    backup_window: str = "03:00-04:00"
    maintenance_window: str = "sun:04:00-sun:05:00"
    deletion_protection: bool = True
    final_snapshot: bool = True
    performance_insights_retention_days: int = 7
    monitoring_interval_s: int = 60
    log_exports: Sequence[str] = ("postgresql", "upgrade")
    ca_cert_identifier: str = "rds-ca-rsa2048-g1"
    iam_database_authentication: bool = True
    auto_minor_version_upgrade: bool = True
    copy_tags_to_snapshot: bool = True
    engine_lifecycle_support: str = "open-source-rds-extended-support-disabled"
    depends_on: Sequence[TerraformElement] = ()
    """The log groups, so RDS never creates them unencrypted first."""

    @property
    def final_snapshot_identifier(self) -> str:
        return f"{self.identifier}-final"


class Instance(Construct):
    def __init__(self, scope: Construct, id_: str, props: InstanceProps):
        super().__init__(scope, id_)
        p = props
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
            final_snapshot_identifier=p.final_snapshot_identifier if p.final_snapshot else None,
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
