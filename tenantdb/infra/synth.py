"""`tenantdb synth`: run the cdktf app (main.py) in its own process.

This module never imports cdktf (LAYOUT.md): the post-apply commands must
start fast, and the jsii runtime costs 10-14 s and ~0.6 GB. main.py prints a
settings error as one line and exits 2; that becomes a UsageError here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tenantdb.errors import ToolkitError, UsageError
from tenantdb.paths import PROJECT_ROOT
from tenantdb.settings import SETTINGS_ENV_VAR

MAIN = PROJECT_ROOT / "main.py"
DEFAULT_OUTDIR = PROJECT_ROOT / "cdktf.out"
WITH_ACCESS_ENV = "TENANTDB_WITH_ACCESS"  # read by main.py
TIMEOUT_S = 600

_QUIET_JSII = {
    "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
    "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "16,18,20",
}


def synth(with_access: bool = False, overlay: str | os.PathLike[str] | None = None,
          outdir: Path | None = None) -> list[Path]:
    """Synthesize every stack; return the stack directories (``<outdir>/stacks/<id>``)."""
    out = Path(outdir or os.environ.get("CDKTF_OUTDIR") or DEFAULT_OUTDIR).resolve()
    proc = _run_app(_app_env(with_access, overlay, out))
    if proc.returncode == 2:
        raise UsageError(_last_line(proc.stderr) or "synth: invalid settings")
    if proc.returncode != 0:
        raise ToolkitError(f"synth failed (main.py exit {proc.returncode}): {_error_line(proc.stderr)}")
    return stack_dirs(out)


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
    env.update(_QUIET_JSII)
    env["CDKTF_OUTDIR"] = str(outdir)
    if overlay:
        env[SETTINGS_ENV_VAR] = str(Path(overlay).resolve())
    env.pop(WITH_ACCESS_ENV, None)
    if with_access:
        env[WITH_ACCESS_ENV] = "1"
    return env


def _run_app(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run([sys.executable, str(MAIN)], cwd=PROJECT_ROOT, env=env, capture_output=True,
                              text=True, timeout=TIMEOUT_S, check=False)
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
