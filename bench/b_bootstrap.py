"""2. Bootstrap: a fresh run and a no-op re-run against the benchmark's cluster.

- SQL work inside the process, from the first connection made to done
  (``bootstrap.run`` in this process, with ``tenantdb.database.connection.connect`` wrapped to
  note when the first connection is up), against the floor: ``psql -f`` of
  the same SQL (every sql/ file and the tenancy-roles script, rendered with
  the same placeholders, one transaction per step as the bootstrap does),
  timed inside psql from connected to done (clock_timestamp()).
- The whole command's wall time: ``tenantdb bootstrap --master-dsn ...`` as a
  new process (interpreter start, imports, connects, work).
- Round trips: counted on the server (bench.server), for the re-run.
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

APP = "tenantdb-bootstrap"
ROOT = Path(__file__).resolve().parent.parent


def render_sql(server: BenchServer) -> str:
    """The bootstrap's SQL as one psql script: each step in its own transaction."""
    import psycopg

    from tenantdb.database import bootstrap
    from tenantdb.database import roles
    from tenantdb.database import sqlfiles

    s = server.settings
    values = bootstrap.placeholders(s)
    parts = ["\\set ON_ERROR_STOP 1", "SELECT clock_timestamp() AS t0 \\gset"]
    with psycopg.connect(server.master_dsn(s.db_name)) as conn:
        for path in sqlfiles.files():
            parts += ["BEGIN;", sqlfiles.load(path, values).as_string(conn), "COMMIT;"]
        parts += ["BEGIN;", roles.script(s).as_string(conn), "COMMIT;"]
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


def in_process(server: BenchServer) -> float:
    """bootstrap.run here; seconds from the first connection up to done."""
    from tenantdb.database import bootstrap
    from tenantdb.database import connection as db

    first: list[float] = []
    real_connect = db.connect

    def connect(*args, **kwargs):  # noqa: ANN002, ANN003 - a pass-through that notes the time
        conn = real_connect(*args, **kwargs)
        if not first:
            first.append(time.perf_counter())
        return conn

    db.connect = connect
    try:
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

    def fresh(fn):  # noqa: ANN001, ANN202
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
    with server.counting() as mark:
        in_process(server)
    trips = server.round_trips(mark, APP)
    server.reset()
    with server.counting() as mark:
        in_process(server)
    fresh_trips = server.round_trips(mark, APP)

    return [
        _work("bootstrap.fresh.sql_work", fresh_work, fresh_floor),
        _work("bootstrap.rerun.sql_work", rerun_work, rerun_floor),
        _command("bootstrap.fresh.command", fresh_cmd, fresh_floor, 2.0),
        _command("bootstrap.rerun.command", rerun_cmd, rerun_floor, 1.0),
        Figure("bootstrap.rerun.round_trips", trips.queries, 1, "round trips", "<= 10 round trips",
               trips.queries <= 10, runs=1,
               note=f"query round trips counted in the server log; plus {trips.connections} connection(s); "
                    "floor: one round trip (a single statement that checks everything)"),
        Figure("bootstrap.fresh.round_trips", fresh_trips.queries, 1, "round trips", None, None, runs=1,
               note=f"informational; plus {fresh_trips.connections} connection(s)"),
    ]


def _work(name: str, work: Samples, floor: Samples) -> Figure:
    ratio = work.median / floor.median
    return Figure(name, round(work.median, 4), round(floor.median, 4), "s", "<= 1.5x floor", ratio <= 1.5,
                  spread=f"figure {work.spread(4)}; floor {floor.spread(4)}", runs=len(work.values),
                  note="floor: psql -f of the same SQL, connected to done", ratio=round(ratio, 3))


def _command(name: str, cmd: Samples, floor: Samples, limit: float) -> Figure:
    return Figure(name, round(cmd.median, 3), round(floor.median, 4), "s", f"< {limit:g} s", cmd.median < limit,
                  spread=cmd.spread(3), runs=len(cmd.values),
                  note="a new `tenantdb bootstrap --master-dsn` process, start to exit; floor: the SQL alone (psql)")
