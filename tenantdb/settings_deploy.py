"""The settings of what is deployed around the instance and how: the connection secrets and their
rotation (AC9, task 6), the network layer's inputs (Story 0.2), Terraform state, the CI roles and the
protection against accidental destruction.

A group of fields :class:`tenantdb.settings.Settings` is made of; never built on its own. The fields
whose default is built from the project and the environment (``"<project>-tfstate-<env>"``) are
filled by ``Settings`` (``derived_defaults``), however a Settings is built.

Ground floor: this module imports only ground-floor modules (settings_rules).
"""

from __future__ import annotations

import re

from pydantic import BaseModel, Field, field_validator

from tenantdb.settings_rules import secret_name

# @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")


class DeploySettings(BaseModel):
    """Secrets, network inputs, Terraform state, CI roles and ``prevent_destroy``."""

    # ----- secrets (AC9, task 6) --------------------------------------------
    connection_secret_name: str = "qualisys/database/connection"
    """Secret holding app_user's connection JSON. @default "qualisys/database/connection" @see AC9, task 6.1."""

    migrator_secret_name: str = "qualisys/database/migrator"
    """Secret holding the migrator's connection JSON.
    @default "qualisys/database/migrator" @see Story 1.3 (migrations run as the migrator)."""

    secret_rotation_days: int = Field(90, ge=1, le=90)
    """Rotation period of the connection and migrator secrets, at most 90 days (checkov CKV_AWS_304).
    @default 90 @see task 6.3, docs/security.md."""

    rotation_application_id: str = (
        "arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSPostgreSQLRotationSingleUser")
    """AWS's PostgreSQL single-user rotation function in the Serverless Application Repository (aws partition).
    @default SecretsManagerRDSPostgreSQLRotationSingleUser
    @see Story 0.4 task 6.3, AWS CDK SecretRotationApplication."""

    rotation_application_version: str = Field("1.1.671", pattern=r"^\d+\.\d+\.\d+$")
    """Pinned semantic version of the rotation application. @default 1.1.671 (what AWS CDK's
    SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER lists for the aws partition) @see Story 0.4 task 6.3."""

    rotation_https_egress_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    """Where the rotation function may open HTTPS (443) to reach Secrets Manager (a NAT gateway or an
    interface endpoint of the network layer). @default anywhere; narrow it to the VPC's CIDR when the
    network layer provides a Secrets Manager VPC endpoint @see docs/security.md."""

    secret_recovery_window_days: int = Field(7, ge=0, le=30)
    """Recovery window of a deleted secret (0 deletes at once). @default 7 @see AWS DeleteSecret."""

    irsa_service_accounts: tuple[str, ...] = ("system:serviceaccount:qualisys:api",)
    """Kubernetes service accounts allowed to read the connection secret. @default qualisys/api @see task 6.4."""

    # ----- network inputs (Story 0.2) ---------------------------------------
    ssm_db_subnet_group_param: str = ""
    """SSM parameter holding the DB subnet group name.
    @default "/<project>/<env>/network/db_subnet_group_name" @see task 1.1."""

    ssm_security_group_param: str = ""
    """SSM parameter holding the RDS security group id.
    @default "/<project>/<env>/network/rds_security_group_id" @see task 4.1."""

    # ----- Terraform state --------------------------------------------------
    state_bucket: str = ""
    """S3 bucket for Terraform state (not used by local).
    @default "<project>-tfstate-<env>" @see README state bucket."""

    state_key: str = ""
    """State object key. @default "tenantdb/<env>/terraform.tfstate"."""

    # ----- CI (docs/ci.md) ----------------------------------------------------
    ci_plan_role_arn: str = ""
    """IAM role the pull-request pipeline assumes through GitHub OIDC to run `tenantdb plan`
    (read-only, state read). @default "" (the plan job stops and says to set it) @see docs/ci.md."""

    ci_apply_role_arn: str = ""
    """IAM role the main-branch pipeline assumes through GitHub OIDC to plan and apply.
    @default "" (the apply job stops and says to set it) @see docs/ci.md."""

    ci_bootstrap_role_arn: str = ""
    """IAM role for `tenantdb bootstrap` and `verify` in the pipeline. @default "" (use the
    self-hosted runner's own credentials, e.g. its instance profile) @see docs/ci.md."""

    # ----- protection against accidental destruction ------------------------
    prevent_destroy: bool = False
    """Terraform ``lifecycle.prevent_destroy`` on the instance, both KMS keys, the secrets and the
    parameter group: `cdktf deploy` and `terraform apply` refuse any plan that destroys or replaces
    them. @default false; prod: true @see docs/runbook.md (deliberate replacement), Story 0.4 AC3."""

    # ----- validation -------------------------------------------------------
    @field_validator("connection_secret_name", "migrator_secret_name")
    @classmethod
    def _secret_names(cls, v: str) -> str:
        return secret_name(v)

    @field_validator("ci_plan_role_arn", "ci_apply_role_arn", "ci_bootstrap_role_arn")
    @classmethod
    def _role_arn(cls, v: str) -> str:
        if v and not _ROLE_ARN.match(v):
            raise ValueError('must be empty or an IAM role ARN, '
                             'e.g. "arn:aws:iam::123456789012:role/tenantdb-plan-dev"')
        return v
