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


from bench.measure import Figure, Samples, interleave
from bench.server import BenchServer



def posture_once(server: BenchServer) -> float:
    from tenantdb.verify import posture

    s = server.settings
    with server.connect_master(s.db_name) as conn:
        t0 = time.perf_counter()
        posture.collect(conn, s)
        return time.perf_counter() - t0


def verify_once(server: BenchServer, wire: bool = False) -> float:
    """Seconds for one verify --master-dsn; raises when a check could not run (ERROR: the figure would lie)."""
    return _verify(server, wire)[0]


def _verify(server: BenchServer, wire: bool = False, signed: bool = False) -> tuple[float, list[str]]:
    """(seconds, the checks that FAILed). A FAIL still ran every statement; an ERROR did not, so it raises."""
    from tenantdb import verify

    s, dsn = (server.wire_settings(), server.wire_dsn()) if wire else (server.settings, server.master_dsn())
    if signed:
        s = s.replaced(tenant_context="signed")
    t0 = time.perf_counter()
    rep = verify.run(s, master_dsn=dsn)
    elapsed = time.perf_counter() - t0
    errors = [f"{c.id} {c.detail[:80]}".strip() for c in rep.checks
              if c.status.value == "ERROR"]
    if errors:
        raise RuntimeError("verify could not run every check: " + "; ".join(errors[:6]))
    return elapsed, [c.id for c in rep.checks if c.status.value == "FAIL"]


def breakdown(server: BenchServer) -> dict[str, int]:
    """Query round trips per database-side check (one verify Context, as verify.run uses it)."""
    from tenantdb import verify
    from tenantdb.report import run_check
    from tenantdb.verify.context import Context

    ctx = Context(server.wire_settings(), master_dsn=server.wire_dsn())
    out: dict[str, int] = {}
    try:
        for spec in verify.CHECKS:
            if spec.needs_aws:
                continue
            mark = server.mark()
            run_check(spec.id, spec.title, lambda spec=spec: spec.fn(ctx))
            out[spec.id] = server.round_trips(mark).round_trips
    finally:
        ctx.close()
    return out


def measure(server: BenchServer, tenants: int, repeats: int) -> list[Figure]:
    work, floor = interleave(repeats, lambda: verify_once(server), lambda: posture_once(server))
    mark = server.mark()
    _, failed = _verify(server, wire=True)
    trips = server.round_trips(mark)
    failing = f"; verify FAILed {', '.join(failed)} (each check ran)" if failed else "; verify passed"
    try:
        per_check = ", ".join(f"{k} {v}" for k, v in breakdown(server).items())
    except Exception as exc:  # noqa: BLE001 - the breakdown is a note; the total above is the figure
        per_check = f"not available ({type(exc).__name__}: {str(exc)[:100]})"
    return [
        _time(f"verify.db.time@{tenants}", work, floor),
        Figure(f"verify.db.round_trips@{tenants}", trips.round_trips, 1, "round trips", "<= 10 round trips",
               trips.round_trips <= 10, runs=1, floor_kind="bound",
               note=f"query round trips counted on the wire over {trips.connections} connection(s) "
                    f"({trips.statements} statements), {tenants} tenants; floor: a lower bound of one round "
                    f"trip, not measured; by check: {per_check}{failing}"),
    ]


def _time(name: str, work: Samples, floor: Samples) -> Figure:
    return Figure(name, round(work.median, 4), round(floor.median, 4), "s", None, None,
                  spread=f"figure {work.spread(4)}; floor {floor.spread(4)}", runs=len(work.values),
                  note="verify --master-dsn in-process (AWS checks SKIP); floor: the ISO posture query alone")


def signed_round_trips(server: BenchServer, tenants: int) -> Figure:
    """verify's round trips with the signed tenant context (the mode with the most to read: the key ring,
    tokens minted per context). Leaves the database in signed mode: call it last."""
    from tenantdb.database.bootstrap import steps as bootstrap

    signed = server.settings.replaced(tenant_context="signed")
    bootstrap.run(signed, master_dsn=server.master_dsn())
    server.install_context_key(signed)
    mark = server.mark()
    _, failed = _verify(server, wire=True, signed=True)
    trips = server.round_trips(mark)
    failing = f"; verify FAILed {', '.join(failed)} (each check ran)" if failed else "; verify passed"
    return Figure(f"verify.db.signed.round_trips@{tenants}", trips.round_trips, 1, "round trips",
                  "<= 10 round trips", trips.round_trips <= 10, runs=1, floor_kind="bound",
                  note=f"signed tenant context: query round trips counted on the wire over {trips.connections} "
                       f"connection(s) ({trips.statements} statements), {tenants} tenants; floor: a lower bound "
                       f"of one round trip, not measured{failing}")
