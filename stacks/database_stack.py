"""The database stack ``<project>-db-<env>``: composes the constructs from one environment's settings.

Every value comes from :class:`tenantdb.settings.Settings`; this module only
wires constructs together and names the outputs other tools read.
"""

from __future__ import annotations

from stacks.access_policy import SecretReadPolicy, SecretReadPolicyProps
from stacks.account import Account
from stacks.alarms import Alarms, AlarmsProps
from stacks.cdk import Construct, TerraformOutput, TerraformStack
from stacks.instance import Instance, InstanceProps
from stacks.kms import Key, KeyProps
from stacks.logs import LogGroups, LogGroupsProps
from stacks.monitoring import MonitoringRole, MonitoringRoleProps
from stacks.network import NetworkLookup, NetworkLookupProps
from stacks.parameter_group import ParameterGroup, ParameterGroupProps
from stacks.protection import protect
from stacks.provider import ProviderProps, add_backend, add_provider
from stacks.rotation import RotationProps, SecretRotation
from stacks.secrets import Secret, SecretProps, context_key_props
from tenantdb.settings import Settings
from tenantdb.settings_alarms import EVENT_CATEGORIES

# Output names are a contract (bootstrap, verifier, runbook read them).
OUTPUTS = ("endpoint_address", "endpoint_port", "instance_identifier", "master_secret_arn",
           "connection_secret_arn", "migrator_secret_arn", "parameter_group_name",
           "rds_kms_key_arn", "secrets_kms_key_arn", "irsa_policy_arn")


class DatabaseStack(TerraformStack):
    def __init__(self, scope: Construct, settings: Settings):
        super().__init__(scope, settings.stack_id)
        s = settings
        add_provider(self, ProviderProps(s, s.stack_id))
        add_backend(self, ProviderProps(s, s.stack_id))
        # Once for the whole stack (an aspect, applied at synth): every instance, key, secret and
        # parameter group any construct below adds gets lifecycle.prevent_destroy (prod by default).
        protect(self, s.prevent_destroy)
        acct = Account(self, "account", region=s.region)

        rds_key = Key(self, "rds-key", KeyProps(
            name="rds", alias=s.kms_alias_rds, account=acct, via_services=("rds",),
            description=f"{s.stack_id}: RDS storage and Performance Insights",
            log_group_arns=[acct.arn("logs", f"log-group:{name}") for name in s.log_group_names],
            deletion_window_days=s.kms_deletion_window_days,
        ))
        secrets_key = Key(self, "secrets-key", KeyProps(
            name="secrets", alias=s.kms_alias_secrets, account=acct, via_services=("secretsmanager",),
            description=f"{s.stack_id}: Secrets Manager (master and connection secrets)",
            deletion_window_days=s.kms_deletion_window_days,
        ))
        params = ParameterGroup(self, "parameters", ParameterGroupProps(
            name=s.parameter_group_name, family=s.parameter_group_family, parameters=s.db_parameters,
            description=f"{s.project} PostgreSQL {s.engine_major} ({s.environment})",
        ))
        monitoring = MonitoringRole(self, "monitoring", MonitoringRoleProps(s.monitoring_role_name, acct))
        network = NetworkLookup(self, "network", NetworkLookupProps(
            subnet_group_param=s.ssm_db_subnet_group_param, security_group_param=s.ssm_security_group_param))
        logs = LogGroups(self, "logs", LogGroupsProps(
            names=s.log_group_names, kms_key_arn=rds_key.arn, retention_days=s.log_retention_days))

        db = Instance(self, "instance", InstanceProps(
            identifier=s.instance_identifier,
            instance_class=s.instance_class,
            engine_version=str(s.engine_major),
            storage_kms_key_arn=rds_key.arn,
            master_secret_kms_key_arn=secrets_key.arn,
            parameter_group_name=params.name,
            subnet_group_name=network.subnet_group_name,
            security_group_ids=[network.security_group_id],
            monitoring_role_arn=monitoring.arn,
            db_name=s.db_name,
            master_username=s.master_username,
            port=s.port,
            multi_az=s.multi_az,
            storage_type=s.storage_type,
            allocated_storage_gb=s.allocated_storage_gb,
            storage_iops=s.storage_iops,
            storage_throughput_mibps=s.storage_throughput_mibps,
            max_allocated_storage_gb=s.max_allocated_storage_gb,
            backup_retention_days=s.backup_retention_days,
            backup_window=s.backup_window,
            maintenance_window=s.maintenance_window,
            deletion_protection=s.deletion_protection,
            final_snapshot=s.final_snapshot,
            performance_insights_retention_days=s.performance_insights_retention_days,
            monitoring_interval_s=s.monitoring_interval_s,
            log_exports=s.log_exports,
            ca_cert_identifier=s.ca_cert_identifier,
            iam_database_authentication=s.iam_database_authentication,
            auto_minor_version_upgrade=s.auto_minor_version_upgrade,
            copy_tags_to_snapshot=s.copy_tags_to_snapshot,
            engine_lifecycle_support=s.engine_lifecycle_support,
            depends_on=logs.groups,
        ))

        connection = Secret(self, "connection-secret", SecretProps(
            logical_name="connection", name=s.connection_secret_name, kms_key_arn=secrets_key.arn,
            description=f"{s.app_role} connection JSON for {s.db_name}; filled by `tenantdb bootstrap`",
            recovery_window_days=s.secret_recovery_window_days,
        ))
        migrator = Secret(self, "migrator-secret", SecretProps(
            logical_name="migrator", name=s.migrator_secret_name, kms_key_arn=secrets_key.arn,
            description=f"{s.migrator_role} connection JSON for {s.db_name}; filled by `tenantdb bootstrap`",
            recovery_window_days=s.secret_recovery_window_days,
        ))
        context_key = Secret(self, "context-key-secret", context_key_props(  # signed tenant context only
            s.context_key_secret_name, secrets_key.arn)) if s.tenant_context == "signed" else None
        # Story 0.4 task 6.3: both application secrets rotate through AWS's single-user function; the master
        # secret keeps RDS's own managed rotation (manage_master_user_password).
        SecretRotation(self, "rotation", RotationProps(
            function_name=s.rotation_function_name,
            application_id=s.rotation_application_id,
            application_version=s.rotation_application_version,
            region=s.region,
            subnet_group_name=network.subnet_group_name,
            rds_security_group_id=network.security_group_id,
            db_port=s.port,
            secrets_kms_key_arn=secrets_key.arn,
            secret_arns={"connection": connection.arn, "migrator": migrator.arn},
            rotation_days=s.secret_rotation_days,
            security_group_name=s.rotation_security_group_name,
            https_egress_cidrs=s.rotation_https_egress_cidrs,
            left_out=tuple(s.emulator_left_out),
        ))
        irsa = SecretReadPolicy(self, "irsa", SecretReadPolicyProps(
            policy_name=s.irsa_policy_name, secret_arn=connection.arn, kms_key_arn=secrets_key.arn, account=acct,
            context_key_secret_arn=context_key.arn if context_key else None))
        # Story 0.4 tasks 4.3/4.4: alarms and the instance's events to one encrypted topic per environment.
        Alarms(self, "alarms", AlarmsProps(
            account=acct, instance_identifier=s.instance_identifier, topic_name=s.alarm_topic_name,
            kms_alias=s.kms_alias_alarms, key_deletion_window_days=s.kms_deletion_window_days,
            alarms=s.alarm_specs, event_subscription_name=s.event_subscription_name,
            event_categories=EVENT_CATEGORIES, subscriptions=s.alarm_subscriptions, depends_on=[db.db]))

        for name, value, what in (
            ("endpoint_address", db.db.address, "instance DNS name"),
            ("endpoint_port", db.db.port, "instance port"),
            ("instance_identifier", db.db.identifier, "RDS instance identifier"),
            ("master_secret_arn", db.master_secret_arn, "RDS-managed master user secret"),
            ("connection_secret_arn", connection.arn, f"{s.app_role} connection secret"),
            ("migrator_secret_arn", migrator.arn, f"{s.migrator_role} connection secret"),
            ("parameter_group_name", params.name, "custom DB parameter group"),
            ("rds_kms_key_arn", rds_key.arn, "CMK for storage, Performance Insights and logs"),
            ("secrets_kms_key_arn", secrets_key.arn, "CMK for Secrets Manager"),
            ("irsa_policy_arn", irsa.arn, "IAM policy for pods reading the connection secret"),
        ):
            TerraformOutput(self, name, value=value, description=what)
