"""Every environment, applied: the exact configuration of dev, staging and prod,
applied to the emulator (moto + fidelity layer) with the real Terraform and
provider, so a configuration the AWS API would reject is caught before a real
deploy. Then:

- `terraform plan -detailed-exitcode` right after the apply shows no changes;
- the emulated instance is brought to life as a local PostgreSQL cluster (as
  `local up` does), and `tenantdb bootstrap` and `tenantdb verify` run through
  the CLI with ``--endpoint`` to that cluster: every check PASSes, the
  AWS-side ones (AC1-AC6, AC9 and the rest that read AWS) included. (The
  verifier is told that the cluster's superuser plays rdsadmin, as the local
  settings say; see :func:`verify_overlay`.)

The only difference from the real configuration is the overlay's
``aws_endpoint_url`` (tests/fixtures_aws.py ``applied_env``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenantdb import verify
from tenantdb.infra import apply
from tenantdb.local import pipeline
from tenantdb.local.postgres import SUPERUSER, Cluster, free_port

pytestmark = pytest.mark.slow

ENVS = ("dev", "staging", "prod")
AWS_SIDE = {spec.id for spec in verify.CHECKS if spec.needs_aws}
# What the emulator cannot host (settings.EMULATOR_UNSUPPORTED) is left out; these checks SKIP
# there with the reason, and only there.
EMULATOR_SKIPS = {"SEC-ROTATION-APP", "SEC-ROTATION-MASTER"}


@pytest.fixture(scope="module", params=ENVS)
def env(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def live(env: str, applied_env) -> Iterator[tuple[object, Cluster]]:
    """The applied environment and a cluster that plays its instance."""
    applied = applied_env(env)
    base = Path(tempfile.mkdtemp(prefix=f"tenantdb-{env}-", dir="/tmp"))
    os.chmod(base, 0o755)
    cluster = Cluster(base / "postgres", free_port())
    try:
        cluster.init()
        pipeline.bring_to_life(applied.settings, cluster)
        yield applied, cluster
    finally:
        cluster.destroy()
        shutil.rmtree(base, ignore_errors=True)


def cli(overlay: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tenantdb.cli", "--settings", str(overlay), *args],
                          capture_output=True, text=True, timeout=300, check=False)


def verify_overlay(applied, directory: Path) -> Path:
    """The applied overlay, plus the cluster's superuser among the operator's roles.

    The cluster's initdb superuser plays RDS's rdsadmin (tenantdb/local/postgres.py),
    as the local environment's settings say; dev/staging/prod list only RDS's own.
    Only the verifier reads this setting: the applied configuration is unchanged.
    """
    s = applied.settings
    return apply.emulator_overlay(directory / "verify.toml", {s.environment: {
        "aws_endpoint_url": s.aws_endpoint_url,
        "aws_internal_roles": [*s.aws_internal_roles, SUPERUSER]}})


def test_apply_then_plan_shows_no_changes(env: str, applied_env) -> None:
    applied = applied_env(env)
    assert applied.settings.environment == env
    assert applied.drift_after_apply == []
    print(f"\n{env}: left out for the emulator: {', '.join(applied.settings.emulator_left_out)}", file=sys.stderr)
    print(f"\n{env}: apply {applied.timings['apply']:.0f} s, plan {applied.timings['plan']:.0f} s", file=sys.stderr)


def test_instance_applied_as_configured(env: str, applied_env) -> None:
    """What the emulator holds is the environment's configuration, read back through the AWS API."""
    from tenantdb.aws import Aws

    s = applied_env(env).settings
    inst = Aws(s).instance()
    assert (inst["DBInstanceClass"], inst["MultiAZ"], inst["DeletionProtection"]) == \
        (s.instance_class, s.multi_az, s.deletion_protection)
    assert (inst["PreferredBackupWindow"], inst["PreferredMaintenanceWindow"]) == \
        (s.backup_window, s.maintenance_window)
    assert (inst["AllocatedStorage"], inst.get("MaxAllocatedStorage")) == \
        (s.allocated_storage_gb, s.max_allocated_storage_gb)
    assert inst["CACertificateIdentifier"] == s.ca_cert_identifier


def test_bootstrap_and_verify_pass_every_check(env: str, live, tmp_path: Path) -> None:
    applied, cluster = live
    endpoint = f"{cluster.host}:{cluster.port}"
    overlay = verify_overlay(applied, tmp_path)
    boot = cli(overlay, "bootstrap", "--env", env, "--endpoint", endpoint, "--format", "json")
    assert boot.returncode == 0, boot.stderr
    run = cli(overlay, "verify", "--env", env, "--endpoint", endpoint, "--format", "json")
    rep = json.loads(run.stdout)
    statuses = {c["id"]: c["status"] for c in rep["checks"]}
    assert AWS_SIDE <= set(statuses)
    skips = {c["id"]: c["detail"] for c in rep["checks"] if c["status"] == "SKIP"}
    assert set(skips) <= EMULATOR_SKIPS and all(d.startswith("emulator:") for d in skips.values()), skips
    print(f"\n{env}: SKIP where AWS is an emulator: {skips}", file=sys.stderr)
    assert {i: st for i, st in statuses.items() if i in AWS_SIDE and st != "PASS" and i not in skips} == {}
    assert [(c["id"], c["status"], c["detail"]) for c in rep["checks"]
            if c["status"] != "PASS" and c["id"] not in skips] == []
    assert run.returncode == 0


def test_prod_differs_where_the_story_says(applied_env) -> None:
    """Multi-AZ, deletion protection and the larger class reached the emulator for prod only."""
    from tenantdb.aws import Aws

    seen = {env: Aws(applied_env(env).settings).instance() for env in ENVS}
    assert [seen[e]["MultiAZ"] for e in ENVS] == [False, False, True]
    assert [seen[e]["DeletionProtection"] for e in ENVS] == [False, False, True]
    assert seen["prod"]["DBInstanceClass"] == "db.r5.large" != seen["dev"]["DBInstanceClass"]


def test_terraform_refuses_to_destroy_prods_stateful_resources(applied_env) -> None:
    """prevent_destroy, as the real Terraform reads it: a destroy plan of prod stops (on the instance,
    which goes first, and any other protected resource it reaches) before anything changes; dev,
    without it, plans the destroy (nothing is applied)."""
    import re

    from tenantdb.infra.plan_guard import GUARDED_TYPES

    prod = applied_env("prod")
    refused = apply.plan(prod.settings, prod.deployed.stacks[prod.settings.stack_id], extra=["-destroy"])
    text = refused.stdout + refused.stderr
    assert refused.returncode == 1, text[-3000:]
    assert "Error: Instance cannot be destroyed" in text
    named = set(re.findall(r"Resource (\S+) has lifecycle.prevent_destroy set", text))
    print(f"\nprod: terraform plan -destroy refused on {sorted(named)}", file=sys.stderr)
    assert "aws_db_instance.db" in named and all(a.split(".")[0] in GUARDED_TYPES for a in named), named
    dev = applied_env("dev")
    planned = apply.plan(dev.settings, dev.deployed.stacks[dev.settings.stack_id], extra=["-destroy"])
    assert planned.returncode == apply.CHANGES, (planned.stdout + planned.stderr)[-3000:]
