"""What every benchmark shares: the Figure record, repeats (median and spread), the
peak memory of a process tree, a confidence interval for paired ratios, and
what the figures were measured on (the commit, the machine and its load).

A measured floor is taken in the same run, interleaved with the figure
(figure, floor, figure, floor, ...), so a noisy shared machine slows both
alike. A floor that is a constant (one round trip) is a lower bound, labelled
``floor_kind = "bound"``. A ratio is given only where it means something: for
a goal stated relative to the floor, or for information beside a measured
floor; never for an absolute goal.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Figure:
    """One measured figure. ``met`` is None only for figures without a goal (informational)."""

    name: str
    figure: float | None
    floor: float | None
    unit: str
    goal: str | None
    met: bool | None
    spread: str = ""
    runs: int = 0
    note: str = ""
    ratio: float | None = field(default=None)
    bench: str = ""
    floor_kind: str | None = None
    """"measured" (in this run, interleaved), "bound" (a constant lower bound) or None (no floor)."""
    commit: str = ""
    load: str = ""
    """The load average (1/5/15 min) at the start and the end of the benchmark that measured it."""

    def __post_init__(self) -> None:
        if self.floor is not None and self.floor_kind is None:
            self.floor_kind = "measured"
        if (self.ratio is None and self.figure is not None and self.floor and self.floor_kind == "measured"
                and (self.goal is None or relative(self.goal))):
            self.ratio = round(self.figure / self.floor, 3)

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: d[k] for k in ("name", "figure", "floor", "floor_kind", "ratio", "goal", "met", "unit", "spread",
                                  "runs", "note", "commit", "load")}


def relative(goal: str) -> bool:
    """A goal stated against the floor or a baseline (``<= 1.1x floor``), not an absolute one."""
    return "floor" in goal or "baseline" in goal


def skipped(name: str, unit: str, goal: str | None, why: str) -> Figure:
    """A benchmark that did not run: no figure, and its goal not met (fail closed)."""
    return Figure(name, None, None, unit, goal, False if goal else None, note=f"not measured: {why}")


@dataclass
class Samples:
    values: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    def spread(self, digits: int = 3) -> str:
        if len(self.values) < 2:
            return "1 run"
        return f"{min(self.values):.{digits}f}-{max(self.values):.{digits}f} ({len(self.values)} runs)"


def ratio_ci(pairs: Sequence[tuple[float, float]]) -> tuple[float, float, float]:
    """(mean ratio a/b, low, high): a 95% confidence interval over paired runs (Student's t)."""
    ratios = [a / b for a, b in pairs]
    mean = statistics.fmean(ratios)
    if len(ratios) < 2:
        return mean, float("nan"), float("nan")
    half = _t95(len(ratios) - 1) * statistics.stdev(ratios) / len(ratios) ** 0.5
    return mean, mean - half, mean + half


_T95 = ((1, 12.71), (2, 4.30), (3, 3.18), (4, 2.78), (5, 2.57), (6, 2.45), (7, 2.36), (8, 2.31), (9, 2.26),
        (10, 2.23), (12, 2.18), (15, 2.13), (20, 2.09), (30, 2.04), (60, 2.00))


def _t95(df: int) -> float:
    """Student's t, two-sided 95%, for ``df`` degrees of freedom (the next tabulated df down: conservative)."""
    return next((t for d, t in reversed(_T95) if d <= df), 12.71) if df < 120 else 1.96


def interleave(repeats: int, *fns: Callable[[], float]) -> list[Samples]:
    """Run each measurement ``repeats`` times, alternating between them; one Samples per fn."""
    out: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):
        for i, fn in enumerate(fns):
            out[i].append(fn())
    return [Samples(v) for v in out]


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ----- processes: wall time and peak RSS of the whole tree ----------------------

def _children(pid: int) -> list[int]:
    kids: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids += [int(p) for p in fh.read().split()]
    except OSError:
        pass
    return kids


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(pid: int) -> int:
    """Resident memory of ``pid`` and all its descendants, now."""
    total, todo, seen = 0, [pid], set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        total += _rss_bytes(p)
        todo += _children(p)
    return total


@dataclass
class RunResult:
    seconds: float
    peak_rss: int
    returncode: int
    stdout: str
    stderr: str


def run_process(cmd: Sequence[str], *, env: dict[str, str] | None = None, cwd: str | None = None,
                sample_s: float = 0.05, timeout: float = 900) -> RunResult:
    """Run ``cmd``; its wall time and the peak RSS of its process tree (sampled from /proc)."""
    import tempfile

    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), env=env, cwd=cwd, stdout=out, stderr=err, text=True)
        peak = 0
        while proc.poll() is None:
            peak = max(peak, tree_rss(proc.pid))
            if time.perf_counter() - t0 > timeout:
                proc.kill()
            time.sleep(sample_s)
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        return RunResult(seconds, peak, proc.returncode, out.read(), err.read())


# ----- the machine ----------------------------------------------------------------

def commit() -> str:
    """``git rev-parse HEAD``, plus " dirty" when the working tree has changes."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                              check=True, timeout=30).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=normal"], cwd=root,
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (git failed)"
    return f"{head} dirty" if dirty else head


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} vCPU {cpu}, {mem_gib:.0f} GiB RAM, Python {platform.python_version()}"
