"""2. Bootstrap: a fresh run and a no-op re-run against the benchmark's cluster.

- SQL work inside the process, from the first connection made to done
  (``bootstrap.run`` in this process, with ``tenantdb.database.plumbing.connection.connect`` wrapped to
  note when the first connection is up), against the floor: ``psql -f`` of
  the same SQL (every sql/ file and the tenancy-roles script, rendered with
  the same placeholders, one transaction per step as the bootstrap does),
  timed inside psql from connected to done (clock_timestamp()).
- The whole command's wall time: ``tenantdb bootstrap --master-dsn ...`` as a
  new process (interpreter start, imports, connects, work).
- Round trips, fresh and re-run: counted on the wire (bench.wire), against
  goals of at most 10 and at most 3. Their floor, one round trip, is a lower
  bound (a single request that does and checks everything), not a measurement.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.measure import Figure, Samples, interleave, run_process
from bench.server import BenchServer
from bench.wire import Count

ROOT = Path(__file__).resolve().parent.parent


def render_sql(server: BenchServer) -> str:
    """The bootstrap's SQL as one psql script: each step in its own transaction."""

    from tenantdb.database.bootstrap import steps as bootstrap
    from tenantdb.database.bootstrap import roles
    from tenantdb.database.plumbing import sqlfiles

    s = server.settings
    values = bootstrap.placeholders(s)
    parts = ["\\set ON_ERROR_STOP 1", "SELECT clock_timestamp() AS t0 \\gset"]
    with server.connect_master(s.db_name) as conn:
        for path in sqlfiles.files():
            parts += ["BEGIN;", sqlfiles.load(path, values).as_string(conn), "COMMIT;"]
        parts += ["BEGIN;", roles.model(s).script().as_string(conn), "COMMIT;"]
    parts += ["SELECT extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) AS elapsed \\gset",
              "\\echo :elapsed"]
    return "\n".join(parts) + "\n"


def _dsn_without_password(server: BenchServer, dbname: str) -> str:
    c = server.cluster
    return f"host={c.host} port={c.port} user={server.settings.master_username} dbname={dbname} sslmode=require"


def _env(server: BenchServer) -> dict[str, str]:
    # The password travels in the environment, never on a command line (ps shows those).
    return {**os.environ, "PGPASSWORD": server.master_password, "PGAPPNAME": "bench-psql"}


def psql_floor(server: BenchServer, script: Path) -> float:
    done = subprocess.run(["psql", "-X", "-q", "-t", _dsn_without_password(server, server.settings.db_name),
                           "-f", str(script)], env=_env(server), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"psql -f failed: {done.stderr.strip()[-300:]}")
    return float(done.stdout.strip().splitlines()[-1])


def in_process(server: BenchServer, wire: bool = False) -> float:
    """bootstrap.run here; seconds from the first connection up to done (``wire``: through the counter)."""
    from tenantdb.database.bootstrap import steps as bootstrap
    from tenantdb.database.plumbing import connection as db

    first: list[float] = []
    real_connect = db.connect

    def connect(*args, **kwargs):
        conn = real_connect(*args, **kwargs)
        if not first:
            first.append(time.perf_counter())
        return conn

    db.connect = connect
    try:
        if wire:
            bootstrap.run(server.wire_settings(), master_dsn=server.wire_dsn())
        else:
            bootstrap.run(server.settings, master_dsn=server.master_dsn())
    finally:
        db.connect = real_connect
    return time.perf_counter() - first[0]


def whole_command(server: BenchServer, overlay: Path) -> float:
    cmd = [sys.executable, "-m", "tenantdb.cli", "--settings", str(overlay), "bootstrap", "--env", "dev",
           "--master-dsn", _dsn_without_password(server, "postgres")]
    res = run_process(cmd, env=_env(server), cwd=str(ROOT), sample_s=0.02)
    if res.returncode != 0:
        raise RuntimeError(f"tenantdb bootstrap exited {res.returncode}: {res.stderr.strip()[-300:]}")
    return res.seconds


def run(server: BenchServer, repeats: int) -> list[Figure]:
    tmp = Path(tempfile.mkdtemp(prefix="bench-bootstrap-"))
    overlay = server.overlay(tmp)
    script = tmp / "bootstrap.sql"

    def fresh(fn):
        def measure() -> float:
            server.reset()
            return fn()
        return measure

    # The floor's script needs the placeholders only; render it once the roles exist (as_string needs a connection).
    server.reset()
    in_process(server)
    script.write_text(render_sql(server))

    fresh_work, fresh_floor, fresh_cmd = interleave(
        repeats, fresh(lambda: in_process(server)), fresh(lambda: psql_floor(server, script)),
        fresh(lambda: whole_command(server, overlay)))
    in_process(server)  # bootstrapped: the following runs are no-op re-runs
    rerun_work, rerun_floor, rerun_cmd = interleave(
        repeats, lambda: in_process(server), lambda: psql_floor(server, script),
        lambda: whole_command(server, overlay))
    mark = server.mark()
    in_process(server, wire=True)
    trips = server.round_trips(mark)
    server.reset()
    mark = server.mark()
    in_process(server, wire=True)
    fresh_trips = server.round_trips(mark)

    return [
        _work("bootstrap.fresh.sql_work", fresh_work, fresh_floor),
        _work("bootstrap.rerun.sql_work", rerun_work, rerun_floor),
        _command("bootstrap.fresh.command", fresh_cmd, fresh_floor, 2.0),
        _command("bootstrap.rerun.command", rerun_cmd, rerun_floor, 1.0),
        _trips("bootstrap.fresh.round_trips", fresh_trips, 10, "a fresh bootstrap (nothing there)"),
        _trips("bootstrap.rerun.round_trips", trips, 3, "a no-op re-run (everything there)"),
    ]


def _trips(name: str, got: Count, limit: int, what: str) -> Figure:
    return Figure(name, got.round_trips, 1, "round trips", f"<= {limit} round trips", got.round_trips <= limit,
                  runs=1, floor_kind="bound",
                  note=f"{what}: query round trips counted on the wire (a pipeline or a multi-statement string "
                       f"is one), plus {got.connections} connection(s); {got.statements} statements sent; "
                       "floor: a lower bound of one round trip, not measured")


def _work(name: str, work: Samples, floor: Samples) -> Figure:
    ratio = work.median / floor.median
    return Figure(name, round(work.median, 4), round(floor.median, 4), "s", "<= 1.5x floor", ratio <= 1.5,
                  spread=f"figure {work.spread(4)}; floor {floor.spread(4)}", runs=len(work.values),
                  note="floor: psql -f of the same SQL, connected to done", ratio=round(ratio, 3))


def _command(name: str, cmd: Samples, floor: Samples, limit: float) -> Figure:
    return Figure(name, round(cmd.median, 3), None, "s", f"< {limit:g} s", cmd.median < limit,
                  spread=cmd.spread(3), runs=len(cmd.values),
                  note="a new `tenantdb bootstrap --master-dsn` process, start to exit (an absolute goal: no "
                       f"floor, no ratio; the SQL alone takes {floor.median:.4f} s in psql)")
