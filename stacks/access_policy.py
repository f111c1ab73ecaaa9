"""The IAM policy that lets application pods (IRSA) read only the connection secret (task 6.4)
and the signed tenant context's key secret.

kms:Decrypt on the secrets key is allowed only when Secrets Manager makes the
call (``kms:ViaService``), so the policy cannot decrypt anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.account import Account
from stacks.cdk import Construct, IamPolicy, named
from stacks.policy import Statement, document

READ_ACTIONS: tuple[str, ...] = ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")


@dataclass(frozen=True)
class SecretReadPolicyProps:
    policy_name: str
    secret_arn: str
    kms_key_arn: str
    account: Account
    context_key_secret_arn: str | None
    """The signed tenant context's key secret: the application mints tokens with it."""


class SecretReadPolicy(Construct):
    def __init__(self, scope: Construct, id_: str, props: SecretReadPolicyProps):
        super().__init__(scope, id_)
        doc = document(self, "connection_read", [
            Statement(sid="ReadConnectionSecret", actions=READ_ACTIONS, resources=[props.secret_arn]),
            *([Statement(sid="ReadContextKeySecret", actions=READ_ACTIONS, resources=[props.context_key_secret_arn])]
              if props.context_key_secret_arn else []),
            Statement(sid="DecryptThroughSecretsManager", actions=["kms:Decrypt"], resources=[props.kms_key_arn],
                      conditions=[("StringEquals", "kms:ViaService", [props.account.service("secretsmanager")])]),
        ])
        self.policy = named(IamPolicy(self, "policy", name=props.policy_name, policy=doc.json,
                                      description="IRSA: read the database connection secret (tenantdb)"),
                            "connection_read")

    @property
    def arn(self) -> str:
        return self.policy.arn
