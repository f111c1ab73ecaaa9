"""The Enhanced Monitoring role (Story 0.4 task 4.4): trusted by monitoring.rds.amazonaws.com,
with the AWS managed policy AmazonRDSEnhancedMonitoringRole."""

from __future__ import annotations

from dataclasses import dataclass

from stacks.account import Account
from stacks.cdk import Construct, IamRole, IamRolePolicyAttachment, named
from stacks.policy import Statement, document

MANAGED_POLICY = "service-role/AmazonRDSEnhancedMonitoringRole"


@dataclass(frozen=True)
class MonitoringRoleProps:
    role_name: str
    account: Account


class MonitoringRole(Construct):
    def __init__(self, scope: Construct, id_: str, props: MonitoringRoleProps):
        super().__init__(scope, id_)
        acct = props.account
        trust = document(self, "monitoring_trust", [Statement(
            sid="RdsEnhancedMonitoring", actions=["sts:AssumeRole"], resources=(),
            principals={"Service": ["monitoring.rds.amazonaws.com"]},
            # Confused-deputy guard: only RDS acting for this account.
            conditions=[("StringEquals", "aws:SourceAccount", [acct.account_id])],
        )])
        self.role = named(IamRole(self, "role", name=props.role_name, assume_role_policy=trust.json,
                                  description="RDS Enhanced Monitoring (tenantdb)"), "monitoring")
        named(IamRolePolicyAttachment(
            self, "managed", role=self.role.name,
            policy_arn=f"arn:{acct.partition}:iam::aws:policy/{MANAGED_POLICY}",
        ), "monitoring")

    @property
    def arn(self) -> str:
        return self.role.arn
