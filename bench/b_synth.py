"""1. Synth: ``tenantdb synth`` (all stacks) as a new process, its wall time and
the peak resident memory of its whole process tree (tenantdb, main.py, the
jsii node child), against the floor: a Python process that only imports the
AWS provider bindings and exits (the jsii assembly load every synth pays).
Output goes to a private directory, never the project's cdktf.out.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from bench.measure import Figure, RunResult, Samples, run_process

ROOT = Path(__file__).resolve().parent.parent
FLOOR_IMPORT = "import cdktf_cdktf_provider_aws.db_instance"
GIB = 2**30


def _env(outdir: Path) -> dict[str, str]:
    from tenantdb.infra.synth import _QUIET_JSII

    return {**os.environ, **_QUIET_JSII, "CDKTF_OUTDIR": str(outdir)}


def _checked(res: RunResult, what: str) -> RunResult:
    if res.returncode != 0:
        raise RuntimeError(f"{what} exited {res.returncode}: {res.stderr.strip()[-300:]}")
    return res


def run(repeats: int) -> list[Figure]:
    out = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    synth_runs: list[RunResult] = []
    floor_runs: list[RunResult] = []
    try:
        for _ in range(repeats):  # alternate: the machine's noise hits both alike
            synth_runs.append(_checked(run_process([sys.executable, "-m", "tenantdb.cli", "synth"], env=_env(out),
                                                   cwd=str(ROOT)), "tenantdb synth"))
            floor_runs.append(_checked(run_process([sys.executable, "-c", FLOOR_IMPORT], env=_env(out),
                                                   cwd=str(ROOT)), "the bindings import"))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    t, ft = Samples([r.seconds for r in synth_runs]), Samples([r.seconds for r in floor_runs])
    m, fm = Samples([r.peak_rss / GIB for r in synth_runs]), Samples([r.peak_rss / GIB for r in floor_runs])
    ratio = t.median / ft.median
    return [
        Figure("synth.time", round(t.median, 2), round(ft.median, 2), "s", "<= 1.2x floor", ratio <= 1.2,
               spread=f"figure {t.spread(2)}; floor {ft.spread(2)}", runs=len(t.values), ratio=round(ratio, 3),
               note=f"`tenantdb synth` (every stack) vs `python -c '{FLOOR_IMPORT}'`"),
        Figure("synth.peak_memory", round(m.median, 3), round(fm.median, 3), "GiB", "< 1 GiB", max(m.values) < 1.0,
               spread=f"figure {m.spread(3)}; floor {fm.spread(3)}", runs=len(m.values),
               note="peak RSS of the whole process tree, sampled from /proc every 50 ms; met uses the largest run"),
    ]
