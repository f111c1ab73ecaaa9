"""bench/run --quick --json: a smoke run of every benchmark (no assertion on speed).

It checks the output is well-formed and names every benchmark, and that each
figure with a goal carries a boolean verdict consistent with having been
measured: a benchmark that could not run shows as not met, never as met.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"name", "figure", "floor", "ratio", "goal", "met"}


def test_quick_run_names_every_benchmark_with_well_formed_figures():
    done = subprocess.run([str(ROOT / "bench" / "run"), "--quick", "--json"], capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert isinstance(figures, list) and figures
    names = {f["name"].split("@")[0] for f in figures}
    for expected in ("synth.time", "synth.peak_memory", "bootstrap.fresh.sql_work", "bootstrap.rerun.sql_work",
                     "bootstrap.fresh.command", "bootstrap.rerun.command", "bootstrap.rerun.round_trips",
                     "verify.db.round_trips", "verify.db.time", "tenants.posture.goal", "tenants.posture.growth",
                     "tenants.create.per_tenant", "rls.point_read", "rls.range_scan", "rls.insert",
                     "rls.explain.tenant_index", "local.up.cold", "local.up.warm", "verify.aws.api_calls"):
        assert expected in names, f"{expected} missing from {sorted(names)}"
    for f in figures:
        assert KEYS <= f.keys(), f
        if f["goal"] is None:
            assert f["met"] is None, f
            continue
        assert isinstance(f["met"], bool), f
        if f["figure"] is None:  # not measured: never reported as met
            assert f["met"] is False, f
    measured = {f["name"] for f in figures if f["figure"] is not None}
    # --quick skips only the local pipeline; everything else really ran.
    assert not any(n.startswith("local.") for n in measured)
    for f in figures:
        if not f["name"].startswith(("local.", "verify.aws")):
            assert f["figure"] is not None, f
            if f["floor"]:
                assert f["ratio"] is not None and f["ratio"] > 0, f


def test_unknown_benchmark_is_a_usage_error():
    done = subprocess.run([str(ROOT / "bench" / "run"), "--quick", "--only", "nope"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "nope" in done.stderr and "Traceback" not in done.stderr
