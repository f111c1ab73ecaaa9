"""The one place that imports cdktf and its AWS and PostgreSQL provider bindings.

cdktf is archived by HashiCorp; its community continuation, CDK Terrain,
ships the same classes under ``cdktn`` / ``cdktn_provider_aws``. Every other
module in stacks/ imports from here, so a move touches only this file.

Importing any of the bindings costs 10-14 s and ~0.6 GB (the jsii assembly
loads whole), so only main.py and the synth tests import stacks/.
"""

from cdktf import (  # noqa: F401 - re-exported
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
from constructs import Construct, IConstruct  # noqa: F401
from cdktf_cdktf_provider_aws.cloudwatch_log_group import CloudwatchLogGroup  # noqa: F401
from cdktf_cdktf_provider_aws.data_aws_caller_identity import DataAwsCallerIdentity  # noqa: F401
from cdktf_cdktf_provider_aws.data_aws_db_instance import DataAwsDbInstance  # noqa: F401
from cdktf_cdktf_provider_aws.data_aws_db_subnet_group import DataAwsDbSubnetGroup  # noqa: F401
from cdktf_cdktf_provider_aws.data_aws_iam_policy_document import (  # noqa: F401
    DataAwsIamPolicyDocument,
    DataAwsIamPolicyDocumentStatement,
    DataAwsIamPolicyDocumentStatementCondition,
    DataAwsIamPolicyDocumentStatementPrincipals,
)
from cdktf_cdktf_provider_aws.data_aws_partition import DataAwsPartition  # noqa: F401
from cdktf_cdktf_provider_aws.data_aws_ssm_parameter import DataAwsSsmParameter  # noqa: F401
from cdktf_cdktf_provider_aws.db_instance import DbInstance  # noqa: F401
from cdktf_cdktf_provider_aws.db_parameter_group import DbParameterGroup, DbParameterGroupParameter  # noqa: F401
from cdktf_cdktf_provider_aws.db_subnet_group import DbSubnetGroup  # noqa: F401
from cdktf_cdktf_provider_aws.iam_policy import IamPolicy  # noqa: F401
from cdktf_cdktf_provider_aws.iam_role import IamRole  # noqa: F401
from cdktf_cdktf_provider_aws.iam_role_policy_attachment import IamRolePolicyAttachment  # noqa: F401
from cdktf_cdktf_provider_aws.kms_alias import KmsAlias  # noqa: F401
from cdktf_cdktf_provider_aws.kms_key import KmsKey  # noqa: F401
from cdktf_cdktf_provider_aws.provider import AwsProvider, AwsProviderDefaultTags, AwsProviderEndpoints  # noqa: F401
from cdktf_cdktf_provider_aws.secretsmanager_secret import SecretsmanagerSecret  # noqa: F401
from cdktf_cdktf_provider_aws.secretsmanager_secret_rotation import (  # noqa: F401
    SecretsmanagerSecretRotation,
    SecretsmanagerSecretRotationRotationRules,
)
from cdktf_cdktf_provider_aws.security_group import (  # noqa: F401
    SecurityGroup,
    SecurityGroupEgress,
    SecurityGroupIngress,
)
from cdktf_cdktf_provider_aws.serverlessapplicationrepository_cloudformation_stack import (  # noqa: F401
    ServerlessapplicationrepositoryCloudformationStack,
)
from cdktf_cdktf_provider_aws.ssm_parameter import SsmParameter  # noqa: F401
from cdktf_cdktf_provider_aws.subnet import Subnet  # noqa: F401
from cdktf_cdktf_provider_aws.vpc import Vpc  # noqa: F401
from cdktf_cdktf_provider_aws.vpc_security_group_egress_rule import VpcSecurityGroupEgressRule  # noqa: F401
from cdktf_cdktf_provider_aws.vpc_security_group_ingress_rule import VpcSecurityGroupIngressRule  # noqa: F401

# The access stack (docs/access.md): cyrilgdn/postgresql 1.26.0 bindings, prefixed Pg where the name is generic.
from cdktf_cdktf_provider_postgresql.default_privileges import DefaultPrivileges as PgDefaultPrivileges  # noqa: F401
from cdktf_cdktf_provider_postgresql.extension import Extension as PgExtension  # noqa: F401
from cdktf_cdktf_provider_postgresql.grant import Grant as PgGrant  # noqa: F401
from cdktf_cdktf_provider_postgresql.grant_role import GrantRole as PgGrantRole  # noqa: F401
from cdktf_cdktf_provider_postgresql.provider import PostgresqlProvider  # noqa: F401
from cdktf_cdktf_provider_postgresql.role import Role as PgRole  # noqa: F401
from cdktf_cdktf_provider_postgresql.schema import Schema as PgSchema  # noqa: F401


def named(element: TerraformElement, logical_id: str) -> TerraformElement:
    """Give a resource or data source a stable, readable Terraform address (``aws_db_instance.db``).

    cdktf would derive ``<path>_<hash>`` from the construct tree; plans,
    ``tenantdb plan --allow-replace`` and the runbook name addresses, so they
    must not move when a construct is renamed.
    """
    element.override_logical_id(logical_id)
    return element
