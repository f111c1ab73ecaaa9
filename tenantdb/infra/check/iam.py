"""Assertions about IAM (stacks/access_policy.py): the IRSA policy reads the connection
secret and nothing else."""

from __future__ import annotations

from tenantdb.infra.check.context import Ctx, title
from tenantdb.infra.check.reader import ref
from tenantdb.report import Check, failed, passed

SECRET_READ_ACTIONS = {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}


def irsa(c: Ctx) -> Check:
    _, pol = c.db.named("aws_iam_policy", "name", c.s.irsa_policy_name)
    doc = c.db.policy_doc(pol.get("policy"))
    secret_name, _ = c.db.named("aws_secretsmanager_secret", "name", c.s.connection_secret_name)
    secret_arn = ref("aws_secretsmanager_secret", secret_name, "arn")
    key_arn = c.key_arn(c.s.kms_alias_secrets)
    # Signed tenant context: the application also reads the key it mints with (docs/tenant-context.md).
    context_key_arn = ref("aws_secretsmanager_secret", c.db.named(
        "aws_secretsmanager_secret", "name", c.s.context_key_secret_name)[0], "arn") \
        if c.s.tenant_context == "signed" else None
    via = f"secretsmanager.{c.s.region}.amazonaws.com"
    problems = []
    for st in doc.get("statement", []):
        actions, resources = set(st.get("actions", [])), st.get("resources", [])
        conds = {(k.get("test"), k.get("variable")): k.get("values") for k in st.get("condition", [])}
        if actions <= SECRET_READ_ACTIONS and resources in ([secret_arn], [context_key_arn]):
            continue
        if (actions == {"kms:Decrypt"} and resources == [key_arn]
                and conds.get(("StringEquals", "kms:ViaService")) == [via]):
            continue
        problems.append(f"statement {st.get('sid')}: {sorted(actions)} on {resources} {conds or ''}".strip())
    expected = f"read {c.s.connection_secret_name} only; kms:Decrypt via {via}"
    return (failed("IRSA", title("IRSA"), expected, "; ".join(problems), "; ".join(problems)) if problems
            else passed("IRSA", title("IRSA"), expected, f"{len(doc.get('statement', []))} statements, scoped"))
