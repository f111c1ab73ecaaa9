"""bench/run --quick --json: a smoke run of every benchmark (no assertion on speed).

It checks the output is well-formed and names every benchmark, and that each
figure with a goal carries a boolean verdict consistent with having been
measured: a benchmark that could not run shows as not met, never as met.
Every figure says what it was measured on (the commit, the load); a floor
that is a constant is labelled a bound, and no figure with an absolute goal
carries a ratio.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"name", "figure", "floor", "floor_kind", "ratio", "goal", "met", "commit", "load"}
GOALS = ("synth.time", "synth.cached.time", "synth.cached.peak_memory", "bootstrap.fresh.round_trips",
         "bootstrap.rerun.round_trips", "verify.db.round_trips", "rls.point_read", "rls.range_scan", "rls.insert",
         "tenants.posture.growth", "rls.explain.tenant_index")


def _relative(goal: str) -> bool:
    return "floor" in goal or "baseline" in goal


def test_quick_run_names_every_benchmark_with_well_formed_figures():
    done = subprocess.run([str(ROOT / "bench" / "run"), "--quick", "--json"], capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert isinstance(figures, list) and figures
    names = {f["name"].split("@")[0] for f in figures}
    for expected in GOALS + ("synth.peak_memory", "bootstrap.fresh.sql_work", "bootstrap.rerun.sql_work",
                             "bootstrap.fresh.command", "bootstrap.rerun.command", "verify.db.time",
                             "tenants.posture.goal", "tenants.create.per_tenant", "local.up.cold", "local.up.warm",
                             "verify.aws.api_calls"):
        assert expected in names, f"{expected} missing from {sorted(names)}"
    for name in GOALS:  # the goals asked for carry a verdict
        assert all(isinstance(f["met"], bool) for f in figures if f["name"].split("@")[0] == name), name
    assert any(f["name"].startswith("verify.db.round_trips@") for f in figures)
    for f in figures:
        assert KEYS <= f.keys(), f
        assert f["commit"] and f["commit"].split()[0] != "unknown" and f["load"], f
        assert f["floor_kind"] in ("measured", "bound", None), f
        assert (f["floor"] is None) == (f["floor_kind"] is None), f
        if f["floor_kind"] == "bound" or (f["goal"] and not _relative(f["goal"])):
            assert f["ratio"] is None, f  # no ratio against a constant, none where the goal is absolute
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
            if f["floor"] and f["floor_kind"] == "measured" and (f["goal"] is None or _relative(f["goal"])):
                assert f["ratio"] is not None and f["ratio"] > 0, f


def test_unknown_benchmark_is_a_usage_error():
    done = subprocess.run([str(ROOT / "bench" / "run"), "--quick", "--only", "nope"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "nope" in done.stderr and "Traceback" not in done.stderr


def test_the_wire_counts_what_the_client_waits_for_not_statements():
    """bench.wire against a real cluster over verify-full TLS: a pipeline and a multi-statement string are one
    round trip each, separate statements one each, and the connection is counted apart."""
    import psycopg

    from bench.server import BenchServer

    with BenchServer() as srv:
        c = srv.cluster
        dsn = srv.wire_dsn() + f" sslmode=verify-full sslrootcert={c.ca_file} application_name=tenantdb-wire-test"
        mark = srv.mark()
        with psycopg.connect(dsn, autocommit=True) as conn:
            for i in range(3):
                conn.execute("SELECT %s::int", (i,))
            conn.execute("SELECT 1; SELECT 2; SELECT 3")
            with conn.pipeline():
                for i in range(5):
                    conn.execute("SELECT %s::int", (i,))
            assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
        got = srv.round_trips(mark)
        assert (got.round_trips, got.connections) == (3 + 1 + 1 + 1, 1)
        assert got.statements == 3 + 1 + 5 + 1
        assert srv.round_trips(mark, "bench-").round_trips == 0  # attributed by application_name
