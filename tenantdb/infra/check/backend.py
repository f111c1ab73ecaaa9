"""Assertions about the stack's frame (stacks/provider.py, stacks/database_stack.py): the
state backend, the AWS provider, and the outputs other tools read."""

from __future__ import annotations

import json
from pathlib import Path

from tenantdb.infra.check.context import Ctx, title
from tenantdb.report import Check, compare

# Contract with stacks/database_stack.OUTPUTS (tests/test_stacks.py asserts they agree).
REQUIRED_OUTPUTS: tuple[str, ...] = (
    "endpoint_address", "endpoint_port", "instance_identifier", "master_secret_arn",
    "connection_secret_arn", "migrator_secret_arn", "parameter_group_name",
    "rds_kms_key_arn", "secrets_kms_key_arn", "irsa_policy_arn",
)


def state_backend(c: Ctx) -> Check:
    b, t = c.db.doc.get("terraform", {}).get("backend", {}), title("BACKEND")
    if c.s.environment == "local":
        path = b.get("local", {}).get("path", "")
        return compare("BACKEND", t, f"local .../{c.s.stack_id}.tfstate",
                       f"local .../{Path(path).name}" if path else json.dumps(b))
    s3 = b.get("s3", {})
    expected = f"s3://{c.s.state_bucket}/{c.s.state_key} ({c.s.region}), encrypt, use_lockfile"
    actual = (f"s3://{s3.get('bucket')}/{s3.get('key')} ({s3.get('region')})"
              f"{', encrypt' if s3.get('encrypt') is True else ''}"
              f"{', use_lockfile' if s3.get('use_lockfile') is True else ''}")
    if c.s.aws_endpoint_url:
        expected += f", endpoint {c.s.aws_endpoint_url}"
        if s3.get("endpoints", {}).get("s3"):
            actual += f", endpoint {s3['endpoints']['s3']}"
    return compare("BACKEND", t, expected, actual)


def provider(c: Ctx) -> Check:
    (aws,) = c.db.doc.get("provider", {}).get("aws", [{}])
    endpoints = sorted({v for e in aws.get("endpoints", []) for v in e.values()})

    def where(urls: list[str]) -> str:
        return f"every endpoint at {urls[0]}" if len(urls) == 1 else (
            f"endpoints {', '.join(urls)}" if urls else "real AWS endpoints")

    expected = [c.s.aws_endpoint_url] if c.s.aws_endpoint_url else []
    return compare("PROVIDER", title("PROVIDER"), f"region {c.s.region}, {where(expected)}",
                   f"region {aws.get('region')}, {where(endpoints)}")


def outputs(c: Ctx) -> Check:
    missing = [o for o in REQUIRED_OUTPUTS if o not in c.db.doc.get("output", {})]
    return compare("OUTPUTS", title("OUTPUTS"), "all present",
                   f"missing {', '.join(missing)}" if missing else "all present")
