"""Assertions about the signed tenant context's key secret (stacks/secrets.py context_key_props):
in signed mode encrypted with the secrets CMK, no value in Terraform, readable through the IRSA
policy, deleted without a recovery window when the stack drops it (so a later switch back to signed can
create it again: docs/tenant-context.md, switching modes); in plain mode absent."""

from __future__ import annotations

from tenantdb.infra.check.context import Ctx, title
from tenantdb.infra.check.reader import parse_ref, ref
from tenantdb.report import Check, failed, passed

ID = "SEC-CONTEXT-KEY"
READ = "secretsmanager:GetSecretValue"


def context_key_secret(c: Ctx) -> Check:
    s = c.s
    if s.tenant_context != "signed":
        found = [b.get("name") for b in c.db.resources("aws_secretsmanager_secret").values()
                 if b.get("name") == s.context_key_secret_name]
        expected = "tenant_context = plain: no context key secret (docs/tenant-context.md)"
        if found:
            return failed(ID, title(ID), expected, f"secret {found[0]}", "nothing verifies with it; remove it")
        return passed(ID, title(ID), expected, "none")
    name, body = c.db.named("aws_secretsmanager_secret", "name", s.context_key_secret_name)
    arn = ref("aws_secretsmanager_secret", name, "arn")
    key = c.key_arn(s.kms_alias_secrets)
    versions = [v for v in c.db.resources("aws_secretsmanager_secret_version").values()
                if (parse_ref(v.get("secret_id")) or (None, None, None))[2] == name]
    _, pol = c.db.named("aws_iam_policy", "name", s.irsa_policy_name)
    readers = [st.get("sid") for st in c.db.policy_doc(pol.get("policy")).get("statement", [])
               if READ in st.get("actions", []) and arn in st.get("resources", [])]
    window = body.get("recovery_window_in_days")
    problems = []
    if window != 0:
        problems.append(f"recovery window {window} days, not 0: after a switch to plain its name stays taken "
                        "and the next switch to signed fails in cdktf deploy")
    if body.get("kms_key_id") != key:
        problems.append(f"kms {body.get('kms_key_id')}, not the secrets CMK {key}")
    if versions:
        problems.append(f"{len(versions)} secret version resource(s): the key would be in Terraform state")
    if not readers:
        problems.append(f"IRSA policy {s.irsa_policy_name} does not grant {READ} on it")
    expected = (f"secret {s.context_key_secret_name}, kms {key}, no value in Terraform, read by {s.irsa_policy_name}, "
                "recovery window 0 days")
    actual = (f"secret {body.get('name')}, kms {body.get('kms_key_id')}, {len(versions)} version resources, "
              f"IRSA statements {', '.join(map(str, readers)) or 'none'}, recovery window {window} days")
    if problems:
        return failed(ID, title(ID), expected, actual, "; ".join(problems))
    return passed(ID, title(ID), expected, actual)
