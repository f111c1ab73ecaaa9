"""Assertions about the network (stacks/network.py, stacks/network_standin.py): the
instance sits in the network Story 0.2 publishes in SSM, is not public, and a network
stand-in exists only where AWS is an emulator."""

from __future__ import annotations

from typing import Any

from tenantdb.infra.check.context import Ctx, title
from tenantdb.infra.check.reader import ref
from tenantdb.infra.check.terraform_checks import terraform_checks
from tenantdb.report import Check, compare, plain

REAL_AWS = "absent (real AWS: Story 0.2 owns the network)"


def lookup(c: Ctx) -> Check:
    i = c.instance
    params = {body.get("name"): name for name, body in c.db.data("aws_ssm_parameter").items()}

    def param_ref(param_name: str) -> str:
        if param_name not in params:
            raise LookupError(f"no aws_ssm_parameter data source reads {param_name}")
        return ref("aws_ssm_parameter", params[param_name], "insecure_value", data=True)

    expected = {"db_subnet_group_name": param_ref(c.s.ssm_db_subnet_group_param),
                "vpc_security_group_ids": [param_ref(c.s.ssm_security_group_param)]}
    actual = {k: i.get(k) for k in expected}

    def shown(d: dict[str, Any]) -> str:
        return f"subnet group {d['db_subnet_group_name']}, security groups {plain(d['vpc_security_group_ids'])}"

    return compare("NET-LOOKUP", title("NET-LOOKUP"), shown(expected), shown(actual),
                   "" if actual == expected else
                   f"subnet group and security group must come from SSM {c.s.ssm_db_subnet_group_param}, "
                   f"{c.s.ssm_security_group_param}, not literal ids")


def public_access(c: Ctx) -> Check:
    return compare("PUBLIC-ACCESS", title("PUBLIC-ACCESS"), False, c.instance.get("publicly_accessible"))


def standin(c: Ctx) -> list[Check]:
    """NET-STANDIN, then (when the stand-in was synthesized) its init and validate."""
    s = c.s
    net_dir = c.dirs.get(s.network_stack_id)
    expected = "synthesized" if s.aws_endpoint_url else REAL_AWS
    out = [compare("NET-STANDIN", title("NET-STANDIN"), expected, "synthesized" if net_dir else REAL_AWS)]
    if net_dir:
        out += terraform_checks(net_dir, s.provider_mirror, ("NET-TF-INIT", "NET-TF-VALIDATE"))
    return out
