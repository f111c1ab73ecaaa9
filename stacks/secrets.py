"""A Secrets Manager secret with no value (AC9, task 6.1).

Terraform creates the secret and writes no version: the bootstrap fills it,
so no application password ever enters Terraform state.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.cdk import Construct, SecretsmanagerSecret, named


@dataclass(frozen=True)
class SecretProps:
    logical_name: str
    """The Terraform address (``aws_secretsmanager_secret.<logical_name>``)."""
    name: str
    kms_key_arn: str
    description: str
    recovery_window_days: int = 7


class Secret(Construct):
    def __init__(self, scope: Construct, id_: str, props: SecretProps):
        super().__init__(scope, id_)
        self.secret = named(SecretsmanagerSecret(
            self, "secret",
            name=props.name,
            description=props.description,
            kms_key_id=props.kms_key_arn,
            recovery_window_in_days=props.recovery_window_days,
        ), props.logical_name)

    @property
    def arn(self) -> str:
        return self.secret.arn


CONTEXT_KEY_RECOVERY_WINDOW_DAYS = 0
"""The context key secret is deleted at once when the stack drops it (a switch to plain mode): a
recovery window would keep its name taken, and the next switch to signed would fail in `cdktf
deploy`. Nothing is lost: the key signs only tokens that expire within context_token_max_ttl_s, plain
mode verifies none, and in signed mode the database holds the same keys (docs/tenant-context.md,
switching modes)."""


def context_key_props(name: str, kms_key_arn: str) -> SecretProps:
    """The signed tenant context's signing key ring (docs/tenant-context.md), created only with
    ``tenant_context = "signed"``: empty here like the others; `tenantdb bootstrap` generates,
    writes and rotates it (tenantdb.database.tenancy.context_key). No recovery window
    (:data:`CONTEXT_KEY_RECOVERY_WINDOW_DAYS`)."""
    return SecretProps(logical_name="context_key", name=name, kms_key_arn=kms_key_arn,
                       description="signing keys of the signed tenant context; filled and rotated by "
                                   "`tenantdb bootstrap`",
                       recovery_window_days=CONTEXT_KEY_RECOVERY_WINDOW_DAYS)
