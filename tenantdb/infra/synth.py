"""`tenantdb synth`: run the cdktf app (main.py) in its own process.

This module never imports cdktf: the post-apply commands must start fast,
and the jsii runtime costs 10-14 s and ~0.6 GB. main.py prints a settings
error as one line and exits 2; that becomes a UsageError here.

When nothing the output depends on changed, the output directory is reused
or filled from the store without starting node (tenantdb.infra.synth_cache).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tenantdb.errors import ToolkitError, UsageError
from tenantdb.infra import synth_cache
from tenantdb.infra.terraform import QUIET_NODE_ENV
from tenantdb.paths import PROJECT_ROOT
from tenantdb.settings import SETTINGS_ENV_VAR

MAIN = PROJECT_ROOT / "main.py"
DEFAULT_OUTDIR = PROJECT_ROOT / "cdktf.out"
WITH_ACCESS_ENV = "TENANTDB_WITH_ACCESS"  # read by main.py
TIMEOUT_S = 600


@dataclass(frozen=True)
class Outcome:
    """What a synth did: ``source`` is "cdktf.out" (reused), "store" (copied) or "synth" (main.py ran)."""

    dirs: list[Path]
    source: str
    key: str | None


def synth(with_access: bool = False, overlay: str | os.PathLike[str] | None = None,
          outdir: Path | None = None) -> list[Path]:
    """Synthesize every stack; return the stack directories (``<outdir>/stacks/<id>``)."""
    return run(with_access, overlay, outdir).dirs


def run(with_access: bool = False, overlay: str | os.PathLike[str] | None = None, outdir: Path | None = None,
        store: Path | None = None, root: Path = PROJECT_ROOT) -> Outcome:
    """:func:`synth`, saying where the output came from.

    ``store`` defaults to synth_cache.store_dir(); ``root`` is the project whose main.py runs (tests use a copy).
    """
    out = Path(outdir or os.environ.get("CDKTF_OUTDIR") or DEFAULT_OUTDIR).resolve()
    store = store or synth_cache.store_dir()
    key = synth_cache.key(with_access, overlay, root) if synth_cache.enabled() else None
    if key and synth_cache.outdir_hit(out, key):
        return Outcome(stack_dirs(out), "cdktf.out", key)
    if out.is_dir():
        synth_cache.forget(out)
    if key and _restored(out, key, store):
        return Outcome(stack_dirs(out), "store", key)
    proc = _run_app(_app_env(with_access, overlay, out), root)
    if proc.returncode == 2:
        raise UsageError(_last_line(proc.stderr) or "synth: invalid settings")
    if proc.returncode != 0:
        raise ToolkitError(f"synth failed (main.py exit {proc.returncode}): {_error_line(proc.stderr)}")
    dirs = stack_dirs(out)
    # Recorded only if no input changed while main.py ran (its output may be of either version).
    if key and synth_cache.key(with_access, overlay, root) == key:
        synth_cache.store_output(out, key, synth_cache.remember(out, key), store)
    return Outcome(dirs, "synth", key)


def _restored(out: Path, key: str, store: Path) -> bool:
    try:
        out.mkdir(parents=True, exist_ok=True)
        return synth_cache.restore(out, key, store)
    except OSError:
        synth_cache.forget(out)
        return False


def stack_dirs(outdir: Path) -> list[Path]:
    """The stacks the last synth into ``outdir`` wrote, from its manifest (stale dirs are ignored)."""
    manifest = outdir / "manifest.json"
    try:
        stacks = json.loads(manifest.read_text())["stacks"]
    except (OSError, ValueError, KeyError) as exc:
        raise ToolkitError(f"synth wrote no readable {manifest}: {type(exc).__name__}") from None
    return [outdir / meta["workingDirectory"] for meta in stacks.values()]


def _app_env(with_access: bool, overlay: str | os.PathLike[str] | None, outdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(QUIET_NODE_ENV)
    env["CDKTF_OUTDIR"] = str(outdir)
    if overlay:
        env[SETTINGS_ENV_VAR] = str(Path(overlay).resolve())
    env.pop(WITH_ACCESS_ENV, None)
    if with_access:
        env[WITH_ACCESS_ENV] = "1"
    return env


_LAUNCH = """
import os, runpy, sys
sys.argv = [sys.argv[1]]
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
    code = 0
except SystemExit as stop:
    code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    if isinstance(stop.code, str):
        print(stop.code, file=sys.stderr)
sys.stdout.flush()
sys.stderr.flush()
os._exit(code)
"""
"""Runs main.py as ``__main__`` and, once it returned, exits without the jsii runtime's teardown: the
files are written (app.synth() is synchronous) and the teardown costs seconds (a sixth of a cold synth
on a loaded machine). An exception still ends the normal way, with its traceback."""


def _run_app(env: dict[str, str], root: Path = PROJECT_ROOT) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, "-c", _LAUNCH, str(root / MAIN.name)], cwd=root, env=env,
                              capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise ToolkitError(f"synth: main.py did not finish within {TIMEOUT_S} s") from None


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def _error_line(stderr: str) -> str:
    """The exception line of a Python traceback, else the last line."""
    for line in reversed([ln.strip() for ln in stderr.splitlines() if ln.strip()]):
        if "Error" in line.split(":", 1)[0]:
            return line[:300]
    return _last_line(stderr)[:300] or "no output"
