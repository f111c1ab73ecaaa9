"""`tenantdb plan`: terraform plan for one environment's stacks, guarded.

Synthesizes the stacks (always: a plan of stale files would guard the wrong
configuration), runs ``terraform init`` and ``terraform plan -out`` for each
stack of the environment through :mod:`tenantdb.infra.apply` (the emulator for
``local`` and any environment whose settings name an AWS endpoint, real AWS
with the S3 backend otherwise), reads each saved plan back with
``terraform show -json`` and turns it into checks with
:mod:`tenantdb.infra.plan_guard` (stage "plan").

Exit code (the CLI's): 0 when nothing FAILs or ERRORs, 1 on a guard failure
or a plan that could not be made, 2 on bad input.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path

from tenantdb.infra import apply
from tenantdb.infra import plan_guard
from tenantdb.infra import terraform
from tenantdb.errors import ToolkitError, UsageError
from tenantdb.report import Check, Report, errored, passed
from tenantdb.settings import Settings

PLAN_NAME = "tenantdb.tfplan"
"""The saved plan's file name in each stack directory when ``--out`` is not given."""

# A resource address (type.name, optionally indexed), optionally prefixed by its stack id.
_ADDRESS = re.compile(r"^(?:[a-z0-9][a-z0-9-]*:)?(?:module\.[\w-]+(?:\[[^\]]+\])?\.)*"
                      r"[a-z][a-z0-9_]*\.[\w-]+(?:\[[^\]]+\])?$")


def run(s: Settings, out: str | os.PathLike[str] | None = None, allow_replace: Sequence[str] = (),
        overlay: str | os.PathLike[str] | None = None, *, outdir: Path | None = None) -> Report:
    """Plan every stack of ``s.environment`` and guard the result. Raises UsageError on bad input."""
    allow = _validated(allow_replace)
    rep = Report(s.environment, "plan")
    if s.aws_endpoint_url and not _emulator_answers(s):
        hint = "run `tenantdb local up`" if s.environment == "local" else "start the emulator"
        rep.add(errored("PLAN", s.environment, f"no AWS emulator answers at {s.aws_endpoint_url}; {hint}"))
        return rep
    from tenantdb.infra import synth  # runs main.py in its own process; never imports cdktf here

    try:
        written = _outdir(synth.synth(overlay=overlay, outdir=outdir))
        stacks = {sid: apply.stack_dir(written, sid) for sid in apply.stack_ids(s)}
    except ToolkitError as exc:
        rep.add(errored("PLAN", s.environment, f"synth: {exc}"))
        return rep
    found: list[plan_guard.Change] = []
    for sid, directory in stacks.items():
        target = plan_file(directory, out, sid, several=len(stacks) > 1)
        checks, changes = plan_stack(s, sid, directory, target, allow)
        rep.add(checks)
        found += changes
    unused = plan_guard.unused_allowances(found, allow)
    if unused:
        rep.add(passed("ALLOW", "--allow-replace", "an address the plan replaces or destroys",
                       "WARN: matched nothing", "WARN: nothing in the plan is replaced or destroyed at "
                       + ", ".join(unused) + "; check the address against the plan"))
    return rep


def plan_stack(s: Settings, sid: str, directory: Path, target: Path,
               allow: Sequence[str]) -> tuple[list[Check], list[plan_guard.Change]]:
    """init, plan -out TARGET, show -json TARGET (saved beside it as TARGET.json), then the guard."""
    try:
        apply.init(s, directory)
    except Exception as exc:  # noqa: BLE001 - fail closed: any failure is ERROR, never PASS
        return [errored("PLAN", sid, f"terraform init: {exc}")], []
    target.parent.mkdir(parents=True, exist_ok=True)
    result = apply.plan(s, directory, out=target.resolve(), extra=["-lock-timeout=120s"])
    if result.returncode not in (apply.NO_CHANGES, apply.CHANGES):
        (directory / "terraform-plan.log").write_text(result.stdout + result.stderr)
        return [errored("PLAN", sid, f"terraform plan: {result.first_error()} "
                                     f"(full output: {directory / 'terraform-plan.log'})")], []
    shown = terraform.run(["show", "-json", "-no-color", str(target.resolve())], directory,
                          s.provider_mirror, env=apply.tf_env(s))
    if not shown.ok:
        return [errored("PLAN", sid, f"terraform show -json: {shown.first_error()}")], []
    target.with_name(target.name + ".json").write_text(shown.stdout)
    try:
        found = plan_guard.read(shown.stdout, sid)
    except plan_guard.PlanFormatError as exc:
        return [errored("PLAN", sid, f"cannot read the plan {target}: {exc}")], []
    return [plan_guard.summary(sid, found), *plan_guard.checks(found, allow)], found


def plan_file(directory: Path, out: str | os.PathLike[str] | None, sid: str, several: bool) -> Path:
    """Where a stack's plan is saved: ``--out`` (with the stack id added when there are several
    stacks), else ``<stack dir>/tenantdb.tfplan``."""
    if out is None:
        return directory / PLAN_NAME
    path = Path(out)
    return path.with_name(f"{path.stem}.{sid}{path.suffix}") if several else path


def _validated(allow_replace: Sequence[str]) -> list[str]:
    bad = [a for a in allow_replace if not _ADDRESS.match(a)]
    if bad:
        raise UsageError(f"--allow-replace {bad[0]!r}: not a resource address; "
                         "use TYPE.NAME as the plan shows it (e.g. aws_db_instance.db) or STACK:TYPE.NAME")
    return list(allow_replace)


def _emulator_answers(s: Settings) -> bool:
    from tenantdb.aws import endpoint_answers

    return endpoint_answers(s.aws_endpoint_url or "", timeout=2.0)


def _outdir(stack_dirs: list[Path]) -> Path:
    """The synth output directory (``<outdir>/stacks/<id>`` -> ``<outdir>``)."""
    if not stack_dirs:
        raise UsageError("synth wrote no stacks; check the settings")
    return stack_dirs[0].parent.parent
