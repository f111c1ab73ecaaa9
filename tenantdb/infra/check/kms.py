"""Assertions about the KMS keys (stacks/kms.py): rotation on, a separate key for
Secrets Manager, explicit key policies without a wildcard principal."""

from __future__ import annotations

from typing import Any

from tenantdb.infra.check.context import Ctx, title
from tenantdb.report import Check, compare, failed, passed

POLICY_EXPECTED = "no wildcard principal; use only via services"
_LIMITING = ("kms:ViaService", "kms:EncryptionContext:aws:logs:arn")


def keys(c: Ctx) -> list[Check]:
    """KMS-ROTATION, KMS-SEPARATE and KMS-POLICY over the RDS and the secrets CMK."""
    rds_key, secrets_key = c.db.key_for_alias(c.s.kms_alias_rds), c.db.key_for_alias(c.s.kms_alias_secrets)
    found = c.db.resources("aws_kms_key")
    rotation = {n: found[n].get("enable_key_rotation") for n in (rds_key, secrets_key)}
    problems = [p for name in (rds_key, secrets_key) for p in _policy_problems(name, c.db.policy_doc(
        found[name].get("policy")))]
    return [
        compare("KMS-ROTATION", title("KMS-ROTATION"), "rotation on for both CMKs",
                "rotation on for both CMKs" if all(v is True for v in rotation.values()) else str(rotation)),
        compare("KMS-SEPARATE", title("KMS-SEPARATE"), "two distinct CMKs",
                "two distinct CMKs" if rds_key != secrets_key else f"one key {rds_key}"),
        failed("KMS-POLICY", title("KMS-POLICY"), POLICY_EXPECTED, "; ".join(problems), "; ".join(problems))
        if problems else
        passed("KMS-POLICY", title("KMS-POLICY"), POLICY_EXPECTED, "explicit key policies as expected"),
    ]


def _policy_problems(name: str, doc: dict[str, Any]) -> list[str]:
    """A wildcard or non-root AWS principal, or decrypt not limited to a service or log group."""
    problems = []
    for st in doc.get("statement", []):
        for p in st.get("principals", []):
            for ident in p.get("identifiers", []):
                if ident == "*" or (p.get("type") == "AWS" and not ident.endswith(":root")):
                    problems.append(f"{name}/{st.get('sid')}: principal {p.get('type')} {ident}")
        uses_crypto = any(a in ("kms:Decrypt", "kms:Decrypt*", "kms:*") for a in st.get("actions", []))
        limited = any(cond.get("variable") in _LIMITING for cond in st.get("condition", []))
        if uses_crypto and not limited:
            problems.append(f"{name}/{st.get('sid')}: decrypt without kms:ViaService or encryption context")
    return problems
