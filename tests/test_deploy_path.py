"""The deploy path the design card names: `npx cdktf diff` and `npx cdktf deploy` of the local
database stack, as a user runs them, against the session's local environment
(tests/fixtures_local.py: private ports and state directory), then the post-apply steps.

1. ``eval "$(tenantdb local env)"`` gives the shell what the cdktf CLI needs against the
   local emulator (Terraform CLI config, no checkpoint calls, the emulator's dummy
   credentials and endpoint, the settings overlay);
2. a changed setting (backup retention 7 -> 14 days, and the multi-tenant migrations
   README's extensions) first makes verify FAIL AC4: the test can fail;
3. `npx cdktf diff qualisys-db-local --skip-provider-lock` shows exactly that change, and
   `npx cdktf deploy qualisys-db-local --skip-provider-lock --auto-approve` applies it (offline:
   no provider lock is computed, the mirror's provider is used);
4. `tenantdb local up` with the changed settings converges (Terraform has nothing left to
   do, the bootstrap creates the extensions, vector reported as the stand-in's SKIP) and
   `tenantdb verify` passes: AC4 reads the new retention back from the emulator;
5. the original settings are deployed again the same way, so the shared environment is
   left as the other tests expect it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenantdb import settings as settings_mod
from tenantdb.infra import apply

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "tenantdb.cli"]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
README_EXTENSIONS = ["uuid-ossp", "pgcrypto", "citext", "btree_gist", "vector"]
CHANGED = {"backup_retention_days": 14, "extensions": ["pg_stat_statements", *README_EXTENSIONS]}


def tenantdb(overlay: Path, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--settings", str(overlay), *args], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=ROOT)


def shell(overlay: Path, outdir: Path, command: str, timeout: float = 1500) -> subprocess.CompletedProcess[str]:
    """``eval "$(tenantdb local env)"`` then ``command`` in bash, from the project root, as a user types it."""
    env_cmd = " ".join(shlex.quote(a) for a in [*CLI, "--settings", str(overlay), "local", "env"])
    script = (f'set -euo pipefail\nexports=$({env_cmd})\neval "$exports"\n'
              f'{command} --output {shlex.quote(str(outdir))}\n')
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("AWS_", "TF_", "TENANTDB_", "CDKTF_", "PG")) and k != "CHECKPOINT_DISABLE"}
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=timeout,
                          check=False, cwd=ROOT, env=clean)


def plain(text: str) -> str:
    """The CLI's output without its terminal colours and cursor moves."""
    return ANSI.sub("", text)


def verify_report(overlay: Path) -> tuple[int, dict[str, dict]]:
    run = tenantdb(overlay, "verify", "--env", "local", "--format", "json")
    rep = json.loads(run.stdout)
    return run.returncode, {c["id"]: c for c in rep["checks"]}


@pytest.fixture(scope="module")
def changed_overlay(local_overlay: Path, local_cold_up, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The environment is up (its verdict is test_local's to judge; this module judges its own verify).
    assert '"stage": "verify"' in local_cold_up.stdout, local_cold_up.stderr[-3000:]
    base = tomllib.loads(local_overlay.read_text())
    local = {**base.get("local", {}), **CHANGED}
    return apply.emulator_overlay(tmp_path_factory.mktemp("deploy") / "changed.toml", {**base, "local": local})


@pytest.fixture(scope="module")
def deployed(local_overlay: Path, changed_overlay: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, subprocess.CompletedProcess[str]]]:
    stack = settings_mod.load("local", local_overlay).stack_id
    outdir = tmp_path_factory.mktemp("cdktf") / "cdktf.out"
    runs = {"verify_before": tenantdb(changed_overlay, "verify", "--env", "local", "--format", "json")}
    runs["env"] = tenantdb(changed_overlay, "local", "env")
    runs["diff"] = shell(changed_overlay, outdir, f"npx cdktf diff {stack} --skip-provider-lock")
    started = time.monotonic()
    runs["deploy"] = shell(changed_overlay, outdir, f"npx cdktf deploy {stack} --skip-provider-lock --auto-approve")
    print(f"\ncdktf deploy {stack}: {time.monotonic() - started:.0f} s", file=sys.stderr)
    try:
        yield runs
    finally:
        back = shell(local_overlay, outdir, f"npx cdktf deploy {stack} --skip-provider-lock --auto-approve")
        assert back.returncode == 0, back.stdout[-3000:] + back.stderr[-3000:]


def test_local_env_prints_what_the_cdktf_cli_needs(deployed: dict, changed_overlay: Path) -> None:
    run = deployed["env"]
    assert run.returncode == 0, run.stderr
    # Run the printed text in a clean shell and read back what it exported.
    probe = subprocess.run(["bash", "-c", 'eval "$(cat)"; env'], input=run.stdout, capture_output=True,
                           text=True, check=True, env={"PATH": os.environ["PATH"]})
    got = dict(line.split("=", 1) for line in probe.stdout.splitlines() if "=" in line)
    local = settings_mod.load("local", changed_overlay)
    assert Path(got["TF_CLI_CONFIG_FILE"]).is_file()
    assert got["CHECKPOINT_DISABLE"] == "1"
    # Nothing in the user's home: cdktf would put Terraform's plugin cache under ~/.terraform.d.
    assert got["CDKTF_DISABLE_PLUGIN_CACHE_ENV"] == "1" and "TF_PLUGIN_CACHE_DIR" not in got
    assert got["AWS_ACCESS_KEY_ID"] and got["AWS_SECRET_ACCESS_KEY"]
    assert local.aws_endpoint_url in {got.get("AWS_ENDPOINT_URL"), got.get("AWS_ENDPOINT_URL_RDS")}
    assert Path(got["TENANTDB_SETTINGS"]).resolve() == changed_overlay.resolve()


def test_the_changed_setting_fails_verify_before_the_deploy(deployed: dict) -> None:
    checks = {c["id"]: c for c in json.loads(deployed["verify_before"].stdout)["checks"]}
    assert deployed["verify_before"].returncode == 1
    assert checks["AC4"]["status"] == "FAIL" and "14" in checks["AC4"]["expected"]


def test_cdktf_diff_shows_the_change(deployed: dict) -> None:
    run = deployed["diff"]
    out = plain(run.stdout)
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    assert "# aws_db_instance.db (instance/db) will be updated in-place" in out, out[-3000:]
    assert re.search(r"~ backup_retention_period\s+= 7 -> 14", out), out[-3000:]
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in out, out[-3000:]


def test_cdktf_deploy_applies_it(deployed: dict, changed_overlay: Path) -> None:
    from tenantdb.aws import Aws

    run = deployed["deploy"]
    out = plain(run.stdout)
    assert run.returncode == 0, out[-3000:] + run.stderr[-3000:]
    assert "Apply complete! Resources: 0 added, 1 changed, 0 destroyed." in out, out[-3000:]
    inst = Aws(settings_mod.load("local", changed_overlay)).instance()
    assert inst["BackupRetentionPeriod"] == 14


def test_local_up_converges_and_verify_passes_afterwards(deployed: dict, changed_overlay: Path) -> None:
    up = tenantdb(changed_overlay, "local", "up", "--format", "json")
    assert up.returncode == 0, up.stderr[-3000:] + up.stdout[-3000:]
    local = settings_mod.load("local", changed_overlay)
    assert any(f"terraform apply {local.stack_id}" in line and "0 added, 0 changed, 0 destroyed" in line
               for line in up.stderr.splitlines()), up.stderr[-3000:]
    code, checks = verify_report(changed_overlay)
    bad = {i: (c["status"], c["detail"]) for i, c in checks.items()
           if c["status"] in ("FAIL", "ERROR")}
    assert bad == {} and code == 0
    assert checks["AC4"]["status"] == "PASS"
    # The README's extensions: installed, but vector, which the stand-in cannot have: a SKIP saying why.
    assert checks["EXTENSIONS"]["status"] == "PASS"
    for name in README_EXTENSIONS[:-1]:
        assert name in checks["EXTENSIONS"]["actual"]
    standin = checks["EXTENSIONS-STANDIN"]
    assert standin["status"] == "SKIP" and standin["detail"].startswith("vector: pgvector is not in the Debian")
