"""Assertions about the secrets (stacks/secrets.py): Story 0.4 AC9, no password in
Terraform, the migrator secret."""

from __future__ import annotations

from tenantdb.infra.check.context import Ctx, tf, title
from tenantdb.infra.check.reader import PASSWORD_ATTRIBUTES
from tenantdb.report import Check, compare, failed, passed


def ac9_secret(c: Ctx) -> Check:
    _, body = c.db.named("aws_secretsmanager_secret", "name", c.s.connection_secret_name)
    key = c.key_arn(c.s.kms_alias_secrets)
    versions = c.db.resources("aws_secretsmanager_secret_version")
    expected = f"secret {c.s.connection_secret_name}, kms {key}, no value in Terraform"
    actual = f"secret {body.get('name')}, kms {body.get('kms_key_id')}, {len(versions)} version resources"
    ok = body.get("kms_key_id") == key and not versions
    return (passed if ok else failed)("AC9", title("AC9"), expected, actual)


def no_password(c: Ctx) -> Check:
    i = c.instance
    key = c.key_arn(c.s.kms_alias_secrets)
    offending = sorted({k for k, v in c.db.walk() if k in PASSWORD_ATTRIBUTES and v not in (None, "")})
    offending += sorted(f"resource {t}" for t in c.db.doc.get("resource", {}) if t.endswith("_secret_version"))
    ok = (i.get("manage_master_user_password") is True and i.get("master_user_secret_kms_key_id") == key
          and not offending)
    expected = f"manage_master_user_password=true, master secret kms {key}, no password attribute"
    actual = (f"manage_master_user_password={tf(i.get('manage_master_user_password'))}, "
              f"master secret kms {i.get('master_user_secret_kms_key_id')}, "
              f"{', '.join(offending) or 'no password attribute'}")
    return (passed if ok else failed)("SEC-NO-PASSWORD", title("SEC-NO-PASSWORD"), expected, actual)


def migrator(c: Ctx) -> Check:
    _, body = c.db.named("aws_secretsmanager_secret", "name", c.s.migrator_secret_name)
    return compare("SEC-MIGRATOR", title("SEC-MIGRATOR"), c.key_arn(c.s.kms_alias_secrets), body.get("kms_key_id"))
