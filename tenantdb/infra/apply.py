"""Apply synthesized stacks with the real Terraform CLI: init, apply, plan.

Used by `tenantdb local up`, by the tests that apply dev/staging/prod to the
emulator, and by `tenantdb plan`. Stacks come from :func:`tenantdb.infra.synth.synth`
(main.py in its own process); this module never imports cdktf.

Against an emulator (``settings.aws_endpoint_url``) Terraform gets the
emulator's dummy credentials, and the S3 state bucket of dev/staging/prod is
created in the emulator first: the synthesized S3 backend points there.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenantdb.infra import terraform
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

#: Credentials an emulator accepts; real AWS never sees them (only set with an endpoint).
EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

#: Plan exit codes with -detailed-exitcode.
NO_CHANGES, CHANGES = 0, 2


def stack_ids(settings: Settings) -> list[str]:
    """The stacks of one environment in apply order: the network stand-in (emulator only), then the database."""
    ids = [settings.network_stack_id] if settings.aws_endpoint_url else []
    return ids + [settings.stack_id]


def stack_dir(outdir: Path, stack_id: str) -> Path:
    path = Path(outdir) / "stacks" / stack_id
    if not (path / "cdk.tf.json").is_file():
        raise ToolkitError(f"stack {stack_id}: no {path / 'cdk.tf.json'}; run `tenantdb synth` first")
    return path


def tf_env(settings: Settings) -> dict[str, str]:
    """What a terraform child needs beyond the CLI config: the region, and dummy keys for an emulator."""
    env = {"AWS_REGION": settings.region, "AWS_DEFAULT_REGION": settings.region}
    if settings.aws_endpoint_url:
        env.update(EMULATOR_CREDENTIALS)
        env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def ensure_state_bucket(settings: Settings) -> None:
    """Create the S3 state bucket in the emulator (dev/staging/prod pointed at one). No-op otherwise.

    On real AWS the bucket is created once by hand (README); here the emulator
    starts empty, so the backend would find no bucket.
    """
    if settings.environment == "local" or not settings.aws_endpoint_url:
        return
    from tenantdb.aws import Aws

    s3 = Aws(settings).client("s3")
    try:
        s3.head_bucket(Bucket=settings.state_bucket)
        return
    except Exception:  # noqa: BLE001 - missing (404) or unknown: try to create it, which reports the real error
        pass
    try:
        s3.create_bucket(Bucket=settings.state_bucket)
    except Exception as exc:  # noqa: BLE001 - any failure becomes one ToolkitError line
        raise ToolkitError(f"s3:CreateBucket {settings.state_bucket} at {settings.aws_endpoint_url}: "
                           f"{type(exc).__name__}") from None


def init(settings: Settings, directory: Path) -> None:
    ensure_state_bucket(settings)
    result = terraform.init(directory, settings.provider_mirror, env=tf_env(settings))  # serialised inside
    _check("init", directory, result)


def apply(settings: Settings, directory: Path) -> str:
    """`terraform apply -auto-approve`; returns Terraform's summary ("0 added, 0 changed, 0 destroyed")."""
    result = terraform.run(["apply", "-auto-approve", "-no-color", "-input=false"], directory,
                           settings.provider_mirror, env=tf_env(settings))
    _check("apply", directory, result)
    for line in result.stdout.splitlines():
        if line.startswith("Apply complete! Resources:"):
            return line.split("Resources:", 1)[1].strip().rstrip(".")
    return "applied"


def plan(settings: Settings, directory: Path, out: Path | None = None,
         extra: Sequence[str] = ()) -> terraform.Result:
    """`terraform plan -detailed-exitcode`: returncode 0 no changes, 2 changes, 1 error (not raised)."""
    args = ["plan", "-detailed-exitcode", "-no-color", "-input=false", *extra]
    if out is not None:
        args.append(f"-out={out}")
    return terraform.run(args, directory, settings.provider_mirror, env=tf_env(settings))


def plan_changes(settings: Settings, directory: Path) -> bool:
    """True when Terraform would change something; raises when the plan itself fails."""
    result = plan(settings, directory)
    if result.returncode not in (NO_CHANGES, CHANGES):
        _check("plan", directory, result)
    return result.returncode == CHANGES


def _check(step: str, directory: Path, result: terraform.Result) -> None:
    (directory / f"terraform-{step}.log").write_text(result.stdout + result.stderr)
    if not result.ok:
        raise ToolkitError(f"terraform {step} of {directory.name} failed: {result.first_error()} "
                           f"(full output: {directory / f'terraform-{step}.log'})")


@dataclass(frozen=True)
class Deployed:
    """What was applied: the settings and each stack's Terraform working directory."""

    settings: Settings
    stacks: dict[str, Path]

    def outputs(self, stack_id: str | None = None) -> dict[str, Any]:
        """`terraform output -json` of a stack (default: the database stack), as plain values."""
        import json

        sid = stack_id or self.settings.stack_id
        result = terraform.run(["output", "-json", "-no-color"], self.stacks[sid],
                               self.settings.provider_mirror, env=tf_env(self.settings))
        _check("output", self.stacks[sid], result)
        return {k: v.get("value") for k, v in json.loads(result.stdout or "{}").items()}


def deploy(settings: Settings, outdir: Path, stage: Callable[[str], Any] | None = None,
           note: Callable[[str], None] | None = None) -> Deployed:
    """Init and apply the environment's stacks from ``outdir`` in order.

    Progress display (optional): ``stage(name)`` returns a context manager
    around each stack; ``note(text)`` receives Terraform's change summary.
    """
    stacks = {sid: stack_dir(outdir, sid) for sid in stack_ids(settings)}
    for sid, directory in stacks.items():
        with _stage(stage, f"terraform apply {sid}"):
            init(settings, directory)
            summary = apply(settings, directory)
            if note is not None:
                note(summary + left_out_note(settings, sid))
    return Deployed(settings, stacks)


def left_out_note(settings: Settings, stack_id: str) -> str:
    """Name what the database stack leaves out where AWS is an emulator (aws_reference.EMULATOR_UNSUPPORTED)."""
    if stack_id != settings.stack_id or not settings.emulator_left_out:
        return ""
    return f"; left out for the emulator: {', '.join(settings.emulator_left_out)}"


def drift(deployed: Deployed) -> list[str]:
    """Stacks whose `terraform plan` would change something (empty: converged)."""
    return [sid for sid, d in deployed.stacks.items() if plan_changes(deployed.settings, d)]


@contextmanager
def _stage(stage: Callable[[str], Any] | None, name: str) -> Iterator[None]:
    if stage is None:
        yield
    else:
        with stage(name):
            yield


def emulator_overlay(path: Path, tables: dict[str, dict[str, Any]]) -> Path:
    """Write a TOML overlay, one table per environment (values: str, int, bool)."""
    lines: list[str] = []
    for env, values in tables.items():
        lines.append(f"[{env}]")
        for key, value in values.items():
            lines.append(f"{key} = {_toml(value)}")
        lines.append("")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    text = os.fspath(value) if isinstance(value, Path) else str(value)
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
