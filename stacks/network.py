"""Network inputs from the network layer (Story 0.2), looked up at plan time.

The DB subnet group name and the RDS security group id are read from SSM
parameters whose names the settings hold; no id is ever written into code.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.cdk import Construct, DataAwsSsmParameter, named


@dataclass(frozen=True)
class NetworkLookupProps:
    subnet_group_param: str
    security_group_param: str


class NetworkLookup(Construct):
    def __init__(self, scope: Construct, id_: str, props: NetworkLookupProps):
        super().__init__(scope, id_)
        self._subnet_group = named(DataAwsSsmParameter(self, "subnet_group", name=props.subnet_group_param),
                                   "db_subnet_group")
        self._security_group = named(DataAwsSsmParameter(self, "security_group", name=props.security_group_param),
                                     "rds_security_group")

    # insecure_value: these are names and ids, not secrets; plans stay readable.
    @property
    def subnet_group_name(self) -> str:
        return self._subnet_group.insecure_value

    @property
    def security_group_id(self) -> str:
        return self._security_group.insecure_value
