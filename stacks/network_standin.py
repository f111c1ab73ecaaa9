"""A stand-in for the network layer (Story 0.2), for emulator environments only.

A VPC, two subnets in two availability zones, the DB subnet group, an RDS
security group allowing the port only from the VPC, and the two SSM
parameters the database stack reads. Never synthesized for real AWS: there,
Story 0.2's network stack owns these.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from stacks.cdk import (
    Construct,
    DbSubnetGroup,
    SecurityGroup,
    SsmParameter,
    Subnet,
    TerraformOutput,
    TerraformStack,
    Vpc,
    VpcSecurityGroupIngressRule,
    named,
)
from stacks.provider import ProviderProps, add_backend, add_provider
from tenantdb.settings import Settings


@dataclass(frozen=True)
class NetworkStandinProps:
    name_prefix: str
    subnet_group_param: str
    security_group_param: str
    availability_zones: Sequence[str]
    db_port: int
    """The RDS security group admits this port from the VPC only (Story 0.4 task 4.2)."""
    vpc_cidr: str = "10.40.0.0/16"
    subnet_cidrs: Sequence[str] = ("10.40.1.0/24", "10.40.2.0/24")


class NetworkStandin(Construct):
    def __init__(self, scope: Construct, id_: str, props: NetworkStandinProps):
        super().__init__(scope, id_)
        p = props
        self.vpc = named(Vpc(self, "vpc", cidr_block=p.vpc_cidr, enable_dns_support=True,
                             enable_dns_hostnames=True, tags={"Name": p.name_prefix}), "standin")
        subnets = [
            named(Subnet(self, f"subnet-{i}", vpc_id=self.vpc.id, cidr_block=cidr, availability_zone=az,
                         tags={"Name": f"{p.name_prefix}-db-{az}"}), f"db_{i}")
            for i, (cidr, az) in enumerate(zip(p.subnet_cidrs, p.availability_zones, strict=True))
        ]
        self.subnet_group = named(DbSubnetGroup(
            self, "subnet-group", name=f"{p.name_prefix}-db", subnet_ids=[s.id for s in subnets],
            description="Database subnets (network stand-in)"), "db")
        self.security_group = named(SecurityGroup(
            self, "rds-sg", name=f"{p.name_prefix}-rds", vpc_id=self.vpc.id,
            description="PostgreSQL from inside the VPC only (network stand-in)",
        ), "rds")
        # A rule resource, not an inline ``ingress`` block: inline rules make this stack own the
        # group's whole rule set, and its next plan would delete the rule the database stack adds
        # for the rotation function (stacks/rotation.py). The real network layer must do the same.
        named(VpcSecurityGroupIngressRule(
            self, "rds-from-vpc", security_group_id=self.security_group.id, description="PostgreSQL from the VPC",
            ip_protocol="tcp", from_port=p.db_port, to_port=p.db_port, cidr_ipv4=self.vpc.cidr_block,
        ), "rds_from_vpc")
        named(SsmParameter(self, "subnet-group-param", name=p.subnet_group_param, type="String",
                           value=self.subnet_group.name), "db_subnet_group")
        named(SsmParameter(self, "security-group-param", name=p.security_group_param, type="String",
                           value=self.security_group.id), "rds_security_group")


class NetworkStandinStack(TerraformStack):
    def __init__(self, scope: Construct, settings: Settings):
        s = settings
        super().__init__(scope, s.network_stack_id)
        add_provider(self, ProviderProps(s, s.network_stack_id))
        add_backend(self, ProviderProps(s, s.network_stack_id))
        net = NetworkStandin(self, "network", NetworkStandinProps(
            name_prefix=f"{s.project}-{s.environment}",
            subnet_group_param=s.ssm_db_subnet_group_param,
            security_group_param=s.ssm_security_group_param,
            availability_zones=(f"{s.region}a", f"{s.region}b"),
            db_port=s.port,
        ))
        TerraformOutput(self, "vpc_id", value=net.vpc.id)
        TerraformOutput(self, "db_subnet_group_name", value=net.subnet_group.name)
        TerraformOutput(self, "rds_security_group_id", value=net.security_group.id)


def wanted(settings: Settings) -> bool:
    """Only where AWS is an emulator: local always, other environments only when an overlay says so."""
    return bool(settings.aws_endpoint_url)
