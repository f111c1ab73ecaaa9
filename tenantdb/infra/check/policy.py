"""The checkov policy gate (tenantdb/infra/policy_gate.py) as a check of the database stack."""

from __future__ import annotations

from typing import Any

from tenantdb.infra import policy_gate
from tenantdb.infra.check.context import Ctx
from tenantdb.report import Check


def scan(c: Ctx) -> list[Check]:
    """POLICY, one check per checkov check id, and Security Hub's RDS.25 and RDS.23."""
    return policy_gate.checks(c.s, c.directory / "cdk.tf.json", _instance_or_empty(c))


def _instance_or_empty(c: Ctx) -> dict[str, Any]:
    """The instance for the Security Hub checks; none (they FAIL) when the stack has not exactly one."""
    try:
        return c.instance
    except LookupError:
        return {}
