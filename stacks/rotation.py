"""Secret rotation through AWS's own PostgreSQL single-user rotation function (Story 0.4 task 6.3).

The function comes from the Serverless Application Repository
(``SecretsManagerRDSPostgreSQLRotationSingleUser``, version pinned in the
settings), deployed by this stack into the database subnets with a security
group of its own: egress to the instance's port on the RDS security group and
HTTPS to Secrets Manager. The RDS security group (owned by the network layer)
gets one ingress rule from that group: the usual pattern for letting a new
client in without owning the group.

Each secret rotates every ``rotation_days`` through the one function (the
function rotates whichever secret invokes it; its policy is scoped by
``secretsmanager:resource/AllowRotationLambdaArn``). Rotation is not started at
apply time: the secrets are empty until `tenantdb bootstrap` fills them, and a
rotation of an empty secret fails.

The function's role decrypts through the secrets CMK's key policy statement
``UseThroughServices`` (the account, via ``secretsmanager`` only) plus the
``kms:Decrypt`` the application grants for ``kmsKeyArn``; naming the role in
the key policy would make the key depend on the function that depends on it.

Where AWS is an emulator, the resource types in ``left_out``
(``settings.emulator_left_out``) are not created; everything else is.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from stacks.cdk import (
    Construct,
    DataAwsDbSubnetGroup,
    Fn,
    SecretsmanagerSecretRotation,
    SecretsmanagerSecretRotationRotationRules,
    SecurityGroup,
    ServerlessapplicationrepositoryCloudformationStack,
    VpcSecurityGroupEgressRule,
    VpcSecurityGroupIngressRule,
    named,
)

SAR_STACK = "aws_serverlessapplicationrepository_cloudformation_stack"
ROTATION = "aws_secretsmanager_secret_rotation"
CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_RESOURCE_POLICY")
"""What the application's CloudFormation template needs: it creates the function's role and resource policy."""


@dataclass(frozen=True)
class RotationProps:
    function_name: str
    application_id: str
    application_version: str
    region: str
    subnet_group_name: str
    """The DB subnet group (from SSM): the function runs in its subnets, in its VPC."""
    rds_security_group_id: str
    db_port: int
    secrets_kms_key_arn: str
    secret_arns: Mapping[str, str]
    """Terraform address suffix (``connection``) -> secret ARN, each rotated by the function."""
    rotation_days: int
    security_group_name: str
    https_egress_cidrs: Sequence[str]
    """Where the function may open HTTPS to reach Secrets Manager (docs/security.md)."""
    left_out: Collection[str]
    """Resource types not created (the emulator's gaps, ``settings.emulator_left_out``)."""


class SecretRotation(Construct):
    def __init__(self, scope: Construct, id_: str, props: RotationProps):
        super().__init__(scope, id_)
        p = props
        subnets = named(DataAwsDbSubnetGroup(self, "subnets", name=p.subnet_group_name), "rotation")
        self.security_group = named(SecurityGroup(
            self, "sg", name=p.security_group_name, vpc_id=subnets.vpc_id,
            description=f"Secrets Manager rotation function {p.function_name}",
        ), "rotation")
        named(VpcSecurityGroupEgressRule(
            self, "to-db", security_group_id=self.security_group.id,
            referenced_security_group_id=p.rds_security_group_id, ip_protocol="tcp",
            from_port=p.db_port, to_port=p.db_port, description="PostgreSQL on the RDS security group",
        ), "rotation_to_db")
        for i, cidr in enumerate(p.https_egress_cidrs):
            named(VpcSecurityGroupEgressRule(
                self, f"https-{i}", security_group_id=self.security_group.id, cidr_ipv4=cidr, ip_protocol="tcp",
                from_port=443, to_port=443, description="HTTPS to the Secrets Manager endpoint",
            ), f"rotation_https_{i}")
        named(VpcSecurityGroupIngressRule(
            self, "db-from-rotation", security_group_id=p.rds_security_group_id,
            referenced_security_group_id=self.security_group.id, ip_protocol="tcp",
            from_port=p.db_port, to_port=p.db_port, description=f"PostgreSQL from {p.function_name}",
        ), "rds_from_rotation")

        self.function_arn: str | None = None
        if SAR_STACK not in p.left_out:
            app = named(ServerlessapplicationrepositoryCloudformationStack(
                self, "application",
                name=p.function_name,
                application_id=p.application_id,
                semantic_version=p.application_version,
                capabilities=list(CAPABILITIES),
                parameters={
                    "functionName": p.function_name,
                    "endpoint": f"https://secretsmanager.{p.region}.amazonaws.com",
                    "vpcSubnetIds": Fn.join(",", subnets.subnet_ids),
                    "vpcSecurityGroupIds": self.security_group.id,
                    "kmsKeyArn": p.secrets_kms_key_arn,
                },
            ), "rotation")
            self.function_arn = app.outputs.lookup("RotationLambdaARN")
        if ROTATION in p.left_out or self.function_arn is None:
            return
        for name, arn in p.secret_arns.items():
            named(SecretsmanagerSecretRotation(
                self, f"rotation-{name}",
                secret_id=arn,
                rotation_lambda_arn=self.function_arn,
                rotation_rules=SecretsmanagerSecretRotationRotationRules(automatically_after_days=p.rotation_days),
                rotate_immediately=False,
            ), name)
