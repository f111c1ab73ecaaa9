"""Switching a mode and back converges with the user's own command, `tenantdb local up`, on the
session's local environment (tests/fixtures_local.py: moto as AWS, the real Terraform CLI, a real
PostgreSQL), and every `local up` ends with verify passing:

- tenant_context plain -> signed -> plain -> signed (docs/tenant-context.md, switching modes):
  the context key secret is created, deleted without a recovery window when the stack drops it,
  and created again under the same name, with a new key;
- access_stack off -> on -> off (docs/access.md): the bootstrap hands roles and grants to the
  access stack and takes them back.

Each of those two starts from and returns to what the session's first `local up` made (plain, no
access stack): the return is one more switch, judged like the others, and leaves the environment as
the other tests expect it. A warm `local up` took 54-94 s here: the tenant_context pair about 4
minutes (four of them), the access_stack pair about 2.5 (two, and two bootstraps of a few seconds).

Two fast tests pin the pieces the convergence rests on: the stack deletes the context key secret
without a recovery window and `tenantdb check` insists on it; `tenantdb verify` in plain mode passes
a secret scheduled for deletion (unreadable, going) and fails a live one, and in signed mode fails
a secret scheduled for deletion with its fix.
"""

from __future__ import annotations

import json
import sys
import tomllib
from pathlib import Path

import pytest

from tenantdb import settings as settings_mod
from tenantdb.infra import apply
from tests.fixtures_local import LocalCli, Run


def _overlay(base: Path, path: Path, **changes: object) -> Path:
    """The session's overlay with ``changes`` in its local table."""
    tables = tomllib.loads(base.read_text())
    return apply.emulator_overlay(path, {**tables, "local": {**tables.get("local", {}), **changes}})


def _up(cli: LocalCli, overlay: Path, label: str) -> dict[str, dict]:
    """`tenantdb --settings OVERLAY local up`: exit 0 and no check FAIL or ERROR; its checks by id."""
    run: Run = LocalCli(overlay, cli.runs)("local", "up", "--format", "json")  # kept for test_no_secrets
    print(f"\nlocal up ({label}): {run.seconds:.0f} s", file=sys.stderr)
    assert run.stdout.strip(), f"{label}: no report\n{run.stderr[-3000:]}"
    checks = {c["id"]: c for c in json.loads(run.stdout)["checks"]}
    bad = {i: (c["status"], c["detail"]) for i, c in checks.items() if c["status"] in ("FAIL", "ERROR")}
    assert run.returncode == 0 and bad == {}, (label, bad, run.stderr[-3000:])
    return checks


@pytest.fixture
def base(local_overlay: Path, local_cold_up: Run) -> Path:
    assert local_cold_up.returncode == 0, local_cold_up.stderr[-3000:] + local_cold_up.stdout[-3000:]
    return local_overlay


@pytest.mark.slow
def test_tenant_context_plain_signed_plain_signed_converges(base: Path, local_cli: LocalCli, tmp_path: Path) -> None:
    signed = _overlay(base, tmp_path / "signed.toml", tenant_context="signed")
    try:
        first = _up(local_cli, signed, "plain -> signed")
        assert first["ISO-SIGNED"]["status"] == "PASS"
        assert first["SEC-CONTEXT-KEY"]["status"] == "PASS"
        plain = _up(local_cli, base, "signed -> plain")
        assert plain["SEC-CONTEXT-KEY"]["status"] == "PASS" and "no secret" in plain["SEC-CONTEXT-KEY"]["actual"]
        again = _up(local_cli, signed, "plain -> signed again")
        assert again["ISO-SIGNED"]["status"] == "PASS"
        key = again["SEC-CONTEXT-KEY"]
        assert key["status"] == "PASS"
        # A new key: the first one went with its secret (docs/tenant-context.md, switching modes).
        old = first["SEC-CONTEXT-KEY"]["actual"].split("current ", 1)[1].split()[0]
        assert old not in key["actual"], (first["SEC-CONTEXT-KEY"]["actual"], key["actual"])
    finally:
        back = _up(local_cli, base, "signed -> plain, as the session started")
    assert back["SEC-CONTEXT-KEY"]["status"] == "PASS" and back["ISO-SIGNED"]["status"] == "PASS"


@pytest.mark.slow
def test_access_stack_off_on_off_converges(base: Path, local_cli: LocalCli, local_settings, tmp_path: Path) -> None:
    on = _overlay(base, tmp_path / "access.toml", access_stack=True)
    try:
        checks = _up(local_cli, on, "access_stack off -> on")
        assert checks["AC8"]["status"] == "PASS"
        # In force: the bootstrap leaves roles and grants to the access stack, and has nothing left to do.
        steps = _bootstrap(local_cli, on)
        assert all(steps[n]["skipped"] and local_settings.access_stack_id in steps[n]["detail"]
                   for n in ("roles", "database-grants", "tenancy-roles")), steps
    finally:
        off = _up(local_cli, base, "access_stack on -> off")
    assert off["AC8"]["status"] == "PASS"
    steps = _bootstrap(local_cli, base)  # the bootstrap owns them again, and they are as it declares
    assert not any(steps[n]["skipped"] for n in ("roles", "database-grants", "tenancy-roles")), steps


def _bootstrap(cli: LocalCli, overlay: Path) -> dict[str, dict]:
    """`tenantdb bootstrap --env local` right after a `local up`: it converged, so nothing changes."""
    run = LocalCli(overlay, cli.runs)("bootstrap", "--env", "local", "--format", "json")
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result["changed"] == 0, [st for st in result["steps"] if st["changed"]]
    return {st["name"]: st for st in result["steps"]}


# ----- the pieces, fast ------------------------------------------------------------------------------

def test_the_context_key_secret_has_no_recovery_window_and_check_insists(synth_in_process) -> None:
    import copy

    from tenantdb.infra.check.context import Ctx, baseline
    from tenantdb.infra.check.context_key import context_key_secret
    from tenantdb.infra.check.reader import Stack

    s = settings_mod.load("dev", None, tenant_context="signed")
    doc = synth_in_process([s])[s.stack_id]
    secrets = doc["resource"]["aws_secretsmanager_secret"]
    assert secrets["context_key"]["recovery_window_in_days"] == 0
    assert secrets["connection"]["recovery_window_in_days"] == s.secret_recovery_window_days  # theirs kept
    ok = context_key_secret(Ctx(s, baseline(s), Stack(Path("."), doc)))
    assert ok.status.value == "PASS" and "recovery window 0 days" in ok.actual, ok
    windowed = copy.deepcopy(doc)
    windowed["resource"]["aws_secretsmanager_secret"]["context_key"]["recovery_window_in_days"] = 7
    bad = context_key_secret(Ctx(s, baseline(s), Stack(Path("."), windowed)))
    assert bad.status.value == "FAIL" and "recovery window 7 days" in bad.detail, bad


def test_verify_judges_a_context_key_secret_scheduled_for_deletion(fresh_emulator: str) -> None:
    from tenantdb.verify import signed_context
    from tenantdb.verify.context import Context

    plain = settings_mod.load("dev").replaced(aws_endpoint_url=fresh_emulator)
    signed = plain.replaced(tenant_context="signed")
    name = plain.context_key_secret_name

    def check(s: settings_mod.Settings):
        return signed_context.context_key(Context(s))

    assert check(plain).status.value == "PASS" and f"no secret {name}" in check(plain).actual
    aws = Context(plain).aws
    aws.secrets.create_secret(Name=name)
    left = check(plain)
    assert left.status.value == "FAIL" and "exists" in left.actual, left
    aws.secrets.delete_secret(SecretId=name, RecoveryWindowInDays=7)
    going = check(plain)
    assert going.status.value == "PASS" and "scheduled for deletion (20" in going.actual, going
    assert "--force-delete-without-recovery" in going.detail
    scheduled = check(signed)
    assert scheduled.status.value == "FAIL" and "scheduled for deletion" in scheduled.actual, scheduled
    assert "restore-secret" in scheduled.detail and "--force-delete-without-recovery" in scheduled.detail
