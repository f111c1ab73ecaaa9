"""1. Synth: ``tenantdb synth`` (all stacks) as a new process, its wall time and
the peak resident memory of its whole process tree (tenantdb, main.py, the
jsii node child).

- Cold (the cache off: ``TENANTDB_SYNTH_CACHE=off``, so main.py and node run)
  against a measured floor: a Python process that only imports the AWS
  provider bindings and exits (the jsii assembly load every synth pays).
  Goal: within 1.1x of it, time and memory.
- Cached (nothing changed since the last synth): absolute goals, at most 1 s
  and under 150 MB, for both ways a hit is served: the output directory reused
  as it is (``tenantdb synth`` twice), and a fresh output directory filled
  from the store (what ``tenantdb check`` does: it synthesizes into a
  temporary directory). A run is checked to be a hit (the manifest not
  rewritten, no node child), else the benchmark fails.

Output and the store go to private directories, never the project's, and
the synths run from a snapshot of the sources taken when the benchmark starts
(main.py, cdktf.json, stacks/, tenantdb/, sql/): an edit to the working tree
during the benchmark would otherwise (rightly) invalidate the cache between
the runs that measure it.
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
GIB, MB = 2**30, 10**6
CACHED_S, CACHED_MB = 1.0, 150


SNAPSHOT = ("main.py", "cdktf.json", "stacks", "tenantdb", "sql")


def snapshot(into: Path) -> Path:
    """A copy of what `tenantdb synth` reads, to run it from."""
    into.mkdir(parents=True)
    for name in SNAPSHOT:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, into / name)
    return into


def _env(outdir: Path, store: Path, cache: bool) -> dict[str, str]:
    from tenantdb.infra.terraform import QUIET_NODE_ENV
    from tenantdb.infra.synth_cache import STORE_ENV, SWITCH_ENV

    env = {**os.environ, **QUIET_NODE_ENV, "CDKTF_OUTDIR": str(outdir), STORE_ENV: str(store)}
    env[SWITCH_ENV] = "on" if cache else "off"
    env["PYTHONPATH"] = str(_SRC[0]) if _SRC else env.get("PYTHONPATH", "")
    return env


_SRC: list[Path] = []
"""The snapshot this run's processes import tenantdb from (set by :func:`run`)."""


def _checked(res: RunResult, what: str) -> RunResult:
    if res.returncode != 0:
        raise RuntimeError(f"{what} exited {res.returncode}: {res.stderr.strip()[-300:]}")
    return res


def _synth(outdir: Path, store: Path, cache: bool) -> RunResult:
    return _checked(run_process([sys.executable, "-m", "tenantdb.cli", "synth"], env=_env(outdir, store, cache),
                                cwd=str(_SRC[0]), sample_s=0.01), "tenantdb synth")


def _hit(outdir: Path, store: Path) -> RunResult:
    """A cached synth into ``outdir``; raises unless it was served without main.py."""
    manifest = outdir / "manifest.json"
    before = manifest.stat().st_mtime_ns if manifest.exists() else None
    res = _synth(outdir, store, cache=True)
    if before is not None and manifest.stat().st_mtime_ns != before:
        raise RuntimeError("the cached synth rewrote manifest.json: not a cache hit")
    if res.peak_rss > 400 * MB:
        raise RuntimeError(f"the cached synth peaked at {res.peak_rss / MB:.0f} MB: node ran, not a cache hit")
    return res


def run(repeats: int, cached_repeats: int = 5) -> list[Figure]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-synth-"))
    out, store = tmp / "cdktf.out", tmp / "store"
    synth_runs: list[RunResult] = []
    floor_runs: list[RunResult] = []
    _SRC[:] = [snapshot(tmp / "src")]
    try:
        for _ in range(repeats):  # alternate: the machine's noise hits both alike
            synth_runs.append(_synth(out, store, cache=False))
            floor_runs.append(_checked(run_process([sys.executable, "-c", FLOOR_IMPORT], env=_env(out, store, False),
                                                   cwd=str(_SRC[0])), "the bindings import"))
        _synth(out, store, cache=True)  # records the output and stores it (one more cold synth)
        reuse = [_hit(out, store) for _ in range(cached_repeats)]
        fresh = []
        for i in range(cached_repeats):
            fresh.append(_hit(tmp / f"fresh-{i}" / "cdktf.out", store))
    finally:
        _SRC.clear()
        shutil.rmtree(tmp, ignore_errors=True)
    return _cold(synth_runs, floor_runs) + _cached("synth.cached", reuse, "the output directory reused as it is") \
        + _cached("synth.cached.fresh_dir", fresh, "a new output directory filled from the store (as check does)")


def _cold(synth_runs: list[RunResult], floor_runs: list[RunResult]) -> list[Figure]:
    t, ft = Samples([r.seconds for r in synth_runs]), Samples([r.seconds for r in floor_runs])
    m, fm = Samples([r.peak_rss / GIB for r in synth_runs]), Samples([r.peak_rss / GIB for r in floor_runs])
    ratio, mratio = t.median / ft.median, max(m.values) / fm.median
    return [
        Figure("synth.time", round(t.median, 2), round(ft.median, 2), "s", "<= 1.1x floor", ratio <= 1.1,
               spread=f"figure {t.spread(2)}; floor {ft.spread(2)}", runs=len(t.values), ratio=round(ratio, 3),
               note=f"cold `tenantdb synth` (every stack, cache off) vs `python -c '{FLOOR_IMPORT}'`, alternating"),
        Figure("synth.peak_memory", round(m.median, 3), round(fm.median, 3), "GiB", "<= 1.1x floor", mratio <= 1.1,
               spread=f"figure {m.spread(3)}; floor {fm.spread(3)}", runs=len(m.values), ratio=round(mratio, 3),
               note="cold; peak RSS of the whole process tree, sampled from /proc every 10 ms; met and ratio use "
                    "the largest run"),
    ]


def _cached(name: str, runs: list[RunResult], how: str) -> list[Figure]:
    t, m = Samples([r.seconds for r in runs]), Samples([r.peak_rss / MB for r in runs])
    return [
        Figure(f"{name}.time", round(t.median, 3), None, "s", f"<= {CACHED_S:g} s", max(t.values) <= CACHED_S,
               spread=t.spread(3), runs=len(t.values),
               note=f"`tenantdb synth`, nothing changed: {how}; a new process, start to exit; met uses the "
                    "slowest run"),
        Figure(f"{name}.peak_memory", round(m.median, 1), None, "MB", f"< {CACHED_MB} MB",
               max(m.values) < CACHED_MB, spread=m.spread(1), runs=len(m.values),
               note=f"{how}; peak RSS of the process tree, sampled every 10 ms; met uses the largest run"),
    ]
