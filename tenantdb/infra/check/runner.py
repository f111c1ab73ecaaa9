"""Run `tenantdb check`: synth once, then every check-stage control of the registry
(tenantdb/checks.py) for each environment, in report order."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tenantdb import checks
from tenantdb.errors import ToolkitError
from tenantdb.infra import synth as synth_mod
from tenantdb.infra.check.context import Ctx, baseline
from tenantdb.report import Report, errored, skipped
from tenantdb.settings import Settings

STAGE = "check"


def run(targets: list[Settings], overlay: str | os.PathLike[str] | None = None) -> list[Report]:
    """Synth once for all environments, then check each target. UsageError (settings) propagates."""
    with tempfile.TemporaryDirectory(prefix="tenantdb-check-") as tmp:
        try:
            dirs = {d.name: d for d in synth_mod.synth(overlay=overlay, outdir=Path(tmp) / "cdktf.out")}
        except ToolkitError as exc:
            return [all_error(s, f"synth failed: {exc}") for s in targets]
        with ThreadPoolExecutor(max_workers=2) as pool:
            return list(pool.map(lambda s: check_environment(s, dirs), targets))


def check_environment(s: Settings, dirs: Mapping[str, Path]) -> Report:
    """One environment's report from its synthesized stacks (``dirs``: stack id -> directory)."""
    db_dir = dirs.get(s.stack_id)
    if db_dir is None:
        return all_error(s, f"synth wrote no stack {s.stack_id}")
    ctx = Ctx(s, baseline(s), db_dir, dirs)
    rep = Report(s.environment, STAGE)
    rep.add(checks.run(STAGE, lambda fn: fn(ctx), errored=errored, skipped=skipped))
    return rep


def all_error(s: Settings, reason: str) -> Report:
    """Every control of the stage ERROR with one reason (nothing could be checked)."""
    rep = Report(s.environment, STAGE)
    rep.add(errored(c.id, c.title, reason) for c in checks.stage(STAGE) if not c.optional)
    return rep
