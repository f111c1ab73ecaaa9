"""``bench/run [--quick] [--json] [--only NAMES]``: run every benchmark, print the figures.

Default sizes are the ones the goals are stated for (and write the measured
block of docs/performance.md and docs/bench-tenant-scale.png); ``--quick`` is a
CI smoke run (small sizes, one repeat, the local pipeline not run) that writes
nothing. ``--json`` prints ``[{"name", "figure", "floor", "ratio", "goal", "met", ...}]``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import doc
from bench.measure import Figure, commit, load_average, machine, skipped
from bench.server import BenchServer

ROOT = Path(__file__).resolve().parent.parent
PLOT = ROOT / "docs" / "bench-tenant-scale.png"
RESULTS = ROOT / "docs" / "bench-results.json"
"""The last full-size figures of every benchmark: a partial run (--only) replaces its own and keeps the rest."""

BENCHMARKS = ("synth", "bootstrap", "tenants", "rls", "migrate", "local")
# Names a run always reports (so a benchmark that could not run still shows, as not met).
EXPECTED = {
    "synth": [("synth.time", "s", "<= 1.1x floor"), ("synth.peak_memory", "GiB", "<= 1.1x floor"),
              ("synth.cached.time", "s", "<= 1 s"), ("synth.cached.peak_memory", "MB", "< 150 MB"),
              ("synth.cached.fresh_dir.time", "s", "<= 1 s"), ("synth.cached.fresh_dir.peak_memory", "MB", "< 150 MB")],
    "bootstrap": [("bootstrap.fresh.sql_work", "s", "<= 1.5x floor"),
                  ("bootstrap.rerun.sql_work", "s", "<= 1.5x floor"),
                  ("bootstrap.fresh.command", "s", "< 2 s"), ("bootstrap.rerun.command", "s", "< 1 s"),
                  ("bootstrap.fresh.round_trips", "round trips", "<= 10 round trips"),
                  ("bootstrap.rerun.round_trips", "round trips", "<= 3 round trips")],
    "tenants": [("tenants.posture.goal", "s", "< 2 s"), ("tenants.posture.growth", "x", "<= 10.5x for 10x tenants"),
                ("verify.db.round_trips", "round trips", "<= 10 round trips"),
                ("verify.db.signed.round_trips", "round trips", "<= 10 round trips")],
    "rls": [("rls.point_read", "ratio", "within 3% of baseline"), ("rls.range_scan", "ratio", "within 3% of baseline"),
            ("rls.insert", "ratio", "within 3% of baseline"),
            ("rls.explain.tenant_index", "bool", "the tenant index is used under the policy")],
    "migrate": [("migrate.parallel.throughput", "tenants/s", ">= 0.8 x N x the one-job throughput"),
                ("migrate.noop", "s", "< 3 s"), ("migrate.memory.growth", "x", "<= 1.2x (flat)")],
    "local": [("local.up.cold", "s", None), ("local.up.warm", "s", None), ("verify.aws.api_calls", "calls", None)],
}


def sizes(quick: bool) -> dict[str, object]:
    if quick:
        return {"repeats": 1, "checkpoints": [10, 20, 30], "sample": 3, "batch": 10,
                "rls_tenants": 50, "rls_rows": 20_000, "rls_pairs": 40, "rls_seconds": 0.1}
    return {"repeats": 5, "checkpoints": [500, 1000, 2000, 3500, 5000], "sample": 10, "batch": 25,
            "rls_tenants": 500, "rls_rows": 1_000_000, "rls_pairs": 600, "rls_seconds": 0.1}


def _runners(quick: bool, server: Callable[[], BenchServer]) -> dict[str, Callable[[], list[Figure]]]:
    from bench import b_bootstrap, b_local, b_migrate, b_rls, b_synth, b_tenants

    z = sizes(quick)
    reps = int(z["repeats"])  # type: ignore[arg-type]  # sizes() values are typed object
    return {
        "synth": lambda: b_synth.run(1 if quick else 3),
        "bootstrap": lambda: b_bootstrap.run(server(), reps),
        "tenants": lambda: b_tenants.run(server(), z["checkpoints"], z["sample"], reps, z["batch"],  # type: ignore[arg-type]  # sizes() values are object
                                         None if quick else PLOT),
        "rls": lambda: b_rls.run(server(), z["rls_tenants"], z["rls_rows"], z["rls_seconds"],  # type: ignore[arg-type]  # sizes() values are object
                                 z["rls_pairs"]),  # type: ignore[arg-type]  # sizes() values are object
        "migrate": lambda: b_migrate.run(server(), 40 if quick else 5000, 8 if quick else 200),
        "local": (lambda: [skipped(n, u, g, "--quick (a cold local up takes 3-4 min)")
                           for n, u, g in EXPECTED["local"]])
        if quick else b_local.run,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench/run", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes, one repeat, no local pipeline; writes nothing")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    ap.add_argument("--only", default=",".join(BENCHMARKS), help=f"comma-separated subset of {', '.join(BENCHMARKS)}")
    args = ap.parse_args(argv)
    chosen = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BENCHMARKS]
    if unknown:
        print(f"bench/run: --only {','.join(unknown)}: unknown; use {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2

    started = dt.datetime.now(dt.UTC)
    load_before = load_average()
    measured_on = commit()
    holder: list[BenchServer] = []

    def server() -> BenchServer:
        if not holder:
            holder.append(BenchServer().start())
        return holder[0]

    figures: list[Figure] = []
    timings: dict[str, float] = {}
    loads: dict[str, list[str]] = {}
    try:
        runners = _runners(args.quick, server)
        for name in chosen:
            t0 = time.perf_counter()
            loads[name] = [load_average()]
            print(f"bench: {name} ...", file=sys.stderr, flush=True)
            try:
                got = runners[name]()
            except Exception as exc:  # noqa: BLE001 - a benchmark that fails is reported, not hidden
                traceback.print_exc(file=sys.stderr)
                got = [skipped(n, u, g, f"{type(exc).__name__}: {str(exc)[:200]}") for n, u, g in EXPECTED[name]]
            timings[name] = time.perf_counter() - t0
            loads[name].append(load_average())
            for f in _complete(name, got):
                f.commit, f.load = measured_on, " -> ".join(loads[name])
                figures.append(f)
            print(f"bench: {name} done in {timings[name]:.0f} s", file=sys.stderr, flush=True)
    finally:
        for s in holder:
            s.close()
    meta = {"date": started.strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(), "commit": measured_on,
            "load_before": load_before, "load_after": load_average(), "quick": args.quick,
            "timings": {k: round(v) for k, v in timings.items()}, "loads": loads}
    if not args.quick:
        merged, saved = doc.merge(RESULTS, chosen, figures, meta)  # every run's record, this one's included
        doc.write(ROOT / "docs" / "performance.md", merged, saved, PLOT)
    if args.json:
        print(json.dumps([f.to_json() for f in figures], indent=1))
    else:
        print(doc.table(figures))
        print(f"\n{meta['date']} · {measured_on} · {meta['machine']} · load {meta['load_before']} -> "
              f"{meta['load_after']}")
    return 0


def _complete(name: str, got: list[Figure]) -> list[Figure]:
    """Every expected name present: a goal-bearing figure that is missing counts as not met."""
    have = {f.name.split("@")[0] for f in got}
    missing = [skipped(n, u, g, "the benchmark did not produce it") for n, u, g in EXPECTED[name]
               if n not in have]
    return got + missing


if __name__ == "__main__":
    sys.exit(main())
