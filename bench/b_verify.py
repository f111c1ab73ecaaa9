"""3. Verify, database side: ``verify.run(--master-dsn)`` in this process (AWS not
consulted), its wall time and its round trips counted on the server, at a
given number of tenants. The floor is the one irreducible read: the ISO
posture query (one round trip over the whole catalog) on an open connection.

The AWS side (API calls per verify) needs an instance in the emulator; it is
measured in the local-pipeline benchmark (bench.b_local), against a real
``local up``.
"""

from __future__ import annotations

import time

import psycopg

from bench.measure import Figure, Samples, interleave
from bench.server import BenchServer

APP = "tenantdb-verify"


def posture_once(server: BenchServer) -> float:
    from tenantdb.verify import posture

    s = server.settings
    with psycopg.connect(server.master_dsn(s.db_name)) as conn:
        t0 = time.perf_counter()
        posture.collect(conn, s)
        return time.perf_counter() - t0


def verify_once(server: BenchServer, must_pass: bool = True) -> float:
    from tenantdb import verify

    t0 = time.perf_counter()
    rep = verify.run(server.settings, master_dsn=server.master_dsn())
    elapsed = time.perf_counter() - t0
    if must_pass and not rep.ok:  # a timing of a verify that failed is not the figure asked for
        bad = [f"{c.id} {c.status.value}" for c in rep.checks if c.status.value in ("FAIL", "ERROR")]
        raise RuntimeError("verify did not pass: " + "; ".join(bad[:6]))
    return elapsed


def breakdown(server: BenchServer) -> dict[str, int]:
    """Query round trips per database-side check (one verify Context, as verify.run uses it)."""
    from tenantdb import verify
    from tenantdb.report import run_check
    from tenantdb.verify.context import Context

    ctx = Context(server.settings, master_dsn=server.master_dsn())
    out: dict[str, int] = {}
    try:
        with server.counting():
            for spec in verify.CHECKS:
                if spec.needs_aws:
                    continue
                mark = server.log_mark()
                run_check(spec.id, spec.title, lambda spec=spec: spec.fn(ctx))
                out[spec.id] = server.round_trips(mark, APP).queries
    finally:
        ctx.close()
    return out


def measure(server: BenchServer, tenants: int, repeats: int) -> list[Figure]:
    work, floor = interleave(repeats, lambda: verify_once(server), lambda: posture_once(server))
    with server.counting() as mark:
        verify_once(server, must_pass=False)  # AC6-LIVE fails while every statement is logged
    trips = server.round_trips(mark, APP)
    per_check = ", ".join(f"{k} {v}" for k, v in breakdown(server).items())
    return [
        _time(f"verify.db.time@{tenants}", work, floor),
        Figure(f"verify.db.round_trips@{tenants}", trips.queries, 1, "round trips", "<= 10 round trips",
               trips.queries <= 10, runs=1,
               note=f"query round trips in the server log over {trips.connections} connection(s), "
                    f"{tenants} tenants; floor: one round trip; by check: {per_check}"),
    ]


def _time(name: str, work: Samples, floor: Samples) -> Figure:
    return Figure(name, round(work.median, 4), round(floor.median, 4), "s", None, None,
                  spread=f"figure {work.spread(4)}; floor {floor.spread(4)}", runs=len(work.values),
                  note="verify --master-dsn in-process (AWS checks SKIP); floor: the ISO posture query alone")
