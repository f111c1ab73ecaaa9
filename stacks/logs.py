"""The CloudWatch log groups RDS exports to, created up front so they are KMS-encrypted and
retained (RDS would otherwise create them unencrypted, never expiring)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stacks.cdk import CloudwatchLogGroup, Construct, named


@dataclass(frozen=True)
class LogGroupsProps:
    names: Sequence[str]
    """Full names, ``/aws/rds/instance/<id>/<log>``."""
    kms_key_arn: str
    """The storage key: the groups are encrypted (AC5)."""
    retention_days: int
    """Retention of the exported logs (checkov CKV_AWS_338)."""


class LogGroups(Construct):
    def __init__(self, scope: Construct, id_: str, props: LogGroupsProps):
        super().__init__(scope, id_)
        self.groups = [
            named(CloudwatchLogGroup(self, name.rsplit("/", 1)[-1], name=name, kms_key_id=props.kms_key_arn,
                                     retention_in_days=props.retention_days),
                  f"rds_{name.rsplit('/', 1)[-1]}")
            for name in props.names
        ]
