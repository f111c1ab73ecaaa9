"""A customer-managed KMS key with rotation, an explicit key policy and an alias (AC5).

The policy names no wildcard principal. The account root administers the key
(so IAM policies decide who may manage it) but may use it for cryptography
only through the AWS services named in ``KeyProps.via_services``
(``kms:ViaService``); CloudWatch Logs gets its own grant limited by the
encryption context to the given log groups.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stacks.account import Account
from stacks.cdk import Construct, KmsAlias, KmsKey, named
from stacks.policy import Statement, document

ADMIN_ACTIONS: tuple[str, ...] = (
    "kms:Create*", "kms:Describe*", "kms:Enable*", "kms:List*", "kms:Put*", "kms:Update*",
    "kms:Revoke*", "kms:Disable*", "kms:Get*", "kms:Delete*", "kms:TagResource", "kms:UntagResource",
    "kms:ScheduleKeyDeletion", "kms:CancelKeyDeletion", "kms:RotateKeyOnDemand",
)
USE_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant",
    "kms:ListGrants", "kms:DescribeKey",
)
LOGS_ACTIONS: tuple[str, ...] = (
    "kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*",
)


@dataclass(frozen=True)
class KeyProps:
    name: str
    """Short name; also the Terraform address (``aws_kms_key.<name>``)."""
    alias: str
    description: str
    account: Account
    via_services: Sequence[str]
    """Services (``rds``, ``secretsmanager``) through which the account may use the key."""
    deletion_window_days: int
    """Waiting period before a scheduled deletion (AC5, AWS KMS ScheduleKeyDeletion)."""
    log_group_arns: Sequence[str] = ()
    """Log group ARN patterns CloudWatch Logs may encrypt with this key. @default none."""
    enable_rotation: bool = True
    """Rotation of the key material (checkov CKV_AWS_7). @default true: the stacks never turn it off."""


class Key(Construct):
    def __init__(self, scope: Construct, id_: str, props: KeyProps):
        super().__init__(scope, id_)
        acct = props.account
        statements = [
            Statement(sid="KeyAdministration", actions=ADMIN_ACTIONS, principals={"AWS": [acct.root_arn]}),
        ]
        if props.via_services:
            statements.append(Statement(
                sid="UseThroughServices", actions=USE_ACTIONS, principals={"AWS": [acct.root_arn]},
                conditions=[("StringEquals", "kms:ViaService", [acct.service(s) for s in props.via_services]),
                            ("StringEquals", "kms:CallerAccount", [acct.account_id])],
            ))
        if props.log_group_arns:
            statements.append(Statement(
                sid="CloudWatchLogs", actions=LOGS_ACTIONS, principals={"Service": [acct.service("logs")]},
                conditions=[("ArnLike", "kms:EncryptionContext:aws:logs:arn", list(props.log_group_arns))],
            ))
        policy = document(self, f"{props.name}_key_policy", statements)
        self.key = named(KmsKey(
            self, "key",
            description=props.description,
            enable_key_rotation=props.enable_rotation,
            deletion_window_in_days=props.deletion_window_days,
            policy=policy.json,
        ), props.name)
        self.alias = named(KmsAlias(self, "alias", name=props.alias, target_key_id=self.key.key_id), props.name)

    @property
    def arn(self) -> str:
        return self.key.arn
