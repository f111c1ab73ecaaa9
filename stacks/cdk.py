"""The one place that imports cdktf and its AWS and PostgreSQL provider bindings.

cdktf is archived by HashiCorp; its community continuation, CDK Terrain,
ships the same classes under ``cdktn`` / ``cdktn_provider_aws``. Every other
module in stacks/ imports from here, so a move touches only this file.

Importing any of the bindings costs 10-14 s and ~0.6 GB (the jsii assembly
loads whole), so only main.py and the synth tests import stacks/.
"""

from cdktf import (
    App,
    Aspects,
    IAspect,
    Fn,
    LocalBackend,
    S3Backend,
    S3BackendEndpointConfig,
    TerraformElement,
    TerraformOutput,
    TerraformResource,
    TerraformStack,
    Testing,
)
from constructs import Construct, IConstruct
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup
from cdktf_cdktf_provider_aws.cloudwatch_metric_alarm import CloudwatchMetricAlarm
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity
from cdktf_cdktf_provider_aws.data_aws_db_instance import DataAwsDbInstance
from cdktf_cdktf_provider_aws.data_aws_db_subnet_group import DataAwsDbSubnetGroup
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition
from cdktf_cdktf_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter
from cdktf_cdktf_provider_aws.db_event_subscription import DbEventSubscription
from cdktf_cdktf_provider_aws.db_instance import DbInstance
from cdktf_cdktf_provider_aws.db_parameter_group import DbParameterGroup, DbParameterGroupParameter
from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup
from cdktf_cdktf_provider_aws.iam_policy import IamPolicy
from cdktf_cdktf_provider_aws.iam_role import IamRole
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias
from cdktf_cdktf_provider_aws.kms_key import KmsKey
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret
from cdktf_cdktf_provider_aws.secretsmanager_secret_rotation import (
    SecretsmanagerSecretRotation,
    SecretsmanagerSecretRotationRotationRules,
)
from cdktf_cdktf_provider_aws.security_group import (
    SecurityGroup,
    SecurityGroupEgress,
    SecurityGroupIngress,
)
from cdktf_cdktf_provider_aws.serverlessapplicationrepository_cloudformation_stack import (
    ServerlessapplicationrepositoryCloudformationStack,
)
from cdktf_cdktf_provider_aws.sns_topic import SnsTopic
from cdktf_cdktf_provider_aws.sns_topic_policy import SnsTopicPolicy
from cdktf_cdktf_provider_aws.sns_topic_subscription import SnsTopicSubscription
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter
from cdktf_cdktf_provider_aws.subnet import Subnet
from cdktf_cdktf_provider_aws.vpc import Vpc
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule

# The access stack (docs/access.md): cyrilgdn/postgresql 1.26.0 bindings, prefixed Pg where the name is generic.
from cdktf_cdktf_provider_postgresql.default_privileges import DefaultPrivileges as PgDefaultPrivileges
from cdktf_cdktf_provider_postgresql.extension import Extension as PgExtension
from cdktf_cdktf_provider_postgresql.grant import Grant as PgGrant
from cdktf_cdktf_provider_postgresql.grant_role import GrantRole as PgGrantRole
from cdktf_cdktf_provider_postgresql.provider import PostgresqlProvider
from cdktf_cdktf_provider_postgresql.role import Role as PgRole
from cdktf_cdktf_provider_postgresql.schema import Schema as PgSchema


# Re-exported: every construct class the stacks use comes from here.
__all__ = [
    "App",
    "Aspects",
    "AwsProvider",
    "AwsProviderDefaultTags",
    "AwsProviderEndpoints",
    "CloudwatchLogGroup",
    "CloudwatchMetricAlarm",
    "Construct",
    "DataAwsCallerIdentity",
    "DataAwsDbInstance",
    "DataAwsDbSubnetGroup",
    "DataAwsIamPolicyDocument",
    "DataAwsIamPolicyDocumentStatement",
    "DataAwsIamPolicyDocumentStatementCondition",
    "DataAwsIamPolicyDocumentStatementPrincipals",
    "DataAwsPartition",
    "DataAwsSsmParameter",
    "DbEventSubscription",
    "DbInstance",
    "DbParameterGroup",
    "DbParameterGroupParameter",
    "DbSubnetGroup",
    "Fn",
    "IAspect",
    "IConstruct",
    "IamPolicy",
    "IamRole",
    "IamRolePolicyAttachment",
    "KmsAlias",
    "KmsKey",
    "LocalBackend",
    "PgDefaultPrivileges",
    "PgExtension",
    "PgGrant",
    "PgGrantRole",
    "PgRole",
    "PgSchema",
    "PostgresqlProvider",
    "S3Backend",
    "S3BackendEndpointConfig",
    "SecretsmanagerSecret",
    "SecretsmanagerSecretRotation",
    "SecretsmanagerSecretRotationRotationRules",
    "SecurityGroup",
    "SecurityGroupEgress",
    "SecurityGroupIngress",
    "ServerlessapplicationrepositoryCloudformationStack",
    "SnsTopic",
    "SnsTopicPolicy",
    "SnsTopicSubscription",
    "SsmParameter",
    "Subnet",
    "TerraformElement",
    "TerraformOutput",
    "TerraformResource",
    "TerraformStack",
    "Testing",
    "Vpc",
    "VpcSecurityGroupEgressRule",
    "VpcSecurityGroupIngressRule",
    "named",
]


def named(element: TerraformElement, logical_id: str) -> TerraformElement:
    """Give a resource or data source a stable, readable Terraform address (``aws_db_instance.db``).

    cdktf would derive ``<path>_<hash>`` from the construct tree; plans,
    ``tenantdb plan --allow-replace`` and the runbook name addresses, so they
    must not move when a construct is renamed.
    """
    element.override_logical_id(logical_id)
    return element
