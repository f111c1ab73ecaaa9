"""The AWS provider and the Terraform backend of every stack.

Real AWS: the provider's default credential chain; state in S3 (encrypted,
S3-native locking). An emulator (``settings.aws_endpoint_url``): every
endpoint the stacks use points at it, the metadata look-up is
skipped, and for dev/staging/prod the S3 backend is pointed at it too, so the
exact dev/staging/prod configuration can be applied to the emulator with its
state in the emulator's S3. local keeps its state on disk.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from pathlib import Path

from stacks.cdk import (
    AwsProvider,
    AwsProviderDefaultTags,
    AwsProviderEndpoints,
    Construct,
    LocalBackend,
    S3Backend,
    S3BackendEndpointConfig,
    TerraformStack,
)
from tenantdb.paths import PROJECT_ROOT
from tenantdb.settings import Settings


# Every AWS API the stacks call (and the backend's STS/IAM for its own checks).
EMULATED_SERVICES: tuple[str, ...] = ("cloudwatch", "ec2", "iam", "kms", "logs", "rds", "s3", "secretsmanager", "sns",
                                     "ssm", "sts")


@dataclass(frozen=True)
class ProviderProps:
    settings: Settings
    stack_id: str
    """Names this stack's state (file or S3 key)."""


def add_provider(scope: Construct, props: ProviderProps) -> AwsProvider:
    s = props.settings
    kwargs: dict = {}
    if s.aws_endpoint_url:
        kwargs = dict(
            endpoints=[AwsProviderEndpoints(**{svc: s.aws_endpoint_url for svc in EMULATED_SERVICES})],
            skip_credentials_validation=True,
            # The account id is requested (the emulator's STS answers): without it the provider reads
            # a security group rule's same-account group reference as "<account>/sg-..." and every
            # plan drifts (the rotation function's security group rules).
            skip_metadata_api_check="true",
            s3_use_path_style=True,
        )
    return AwsProvider(
        scope, "aws",
        region=s.region,
        default_tags=[AwsProviderDefaultTags(tags=default_tags(s))],
        **kwargs,
    )


def default_tags(s: Settings) -> dict[str, str]:
    return {"Project": s.project, "Environment": s.environment, "ManagedBy": "tenantdb"}


def local_state_path(s: Settings, stack_id: str) -> Path:
    """Where the local environment keeps a stack's state (absolute: Terraform runs in cdktf.out)."""
    return PROJECT_ROOT / s.local_state_dir / "terraform" / f"{stack_id}.tfstate"


def state_key(s: Settings, stack_id: str) -> str:
    """The database stack uses ``settings.state_key``; other stacks sit beside it."""
    if stack_id == s.stack_id:
        return s.state_key
    return posixpath.join(posixpath.dirname(s.state_key), f"{stack_id}.tfstate")


def add_backend(stack: TerraformStack, props: ProviderProps) -> None:
    s = props.settings
    if s.environment == "local":
        LocalBackend(stack, path=str(local_state_path(s, props.stack_id)))
        return
    kwargs: dict = {}
    if s.aws_endpoint_url:
        url = s.aws_endpoint_url
        kwargs = dict(
            endpoints=S3BackendEndpointConfig(s3=url, sts=url, iam=url),
            use_path_style=True,
            skip_credentials_validation=True,
            skip_requesting_account_id=True,
            skip_metadata_api_check=True,
            skip_region_validation=True,
        )
    S3Backend(stack, bucket=s.state_bucket, key=state_key(s, props.stack_id), region=s.region,
              encrypt=True, **kwargs)
    # S3-native locking (Terraform >= 1.10); cdktf 0.21's S3Backend predates the field.
    stack.add_override("terraform.backend.s3.use_lockfile", True)
