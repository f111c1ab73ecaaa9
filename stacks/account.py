"""Who and where: account id, partition and region for ARNs in policies."""

from __future__ import annotations

from stacks.cdk import Construct, DataAwsCallerIdentity, DataAwsPartition, named


class Account(Construct):
    """Read at plan time (``aws_caller_identity``), so no account id is ever written into code."""

    def __init__(self, scope: Construct, id_: str, *, region: str):
        super().__init__(scope, id_)
        self.region = region
        self._caller = named(DataAwsCallerIdentity(self, "caller"), "current")
        self._partition = named(DataAwsPartition(self, "partition"), "current")

    @property
    def account_id(self) -> str:
        return self._caller.account_id

    @property
    def partition(self) -> str:
        return self._partition.partition

    @property
    def root_arn(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:root"

    def service(self, name: str) -> str:
        """The regional service endpoint name used by ``kms:ViaService`` (``rds.us-east-1.amazonaws.com``)."""
        return f"{name}.{self.region}.amazonaws.com"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{resource}"
