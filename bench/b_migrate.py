"""6. Tenant migrations: 5,000 tenants, one revision that adds a column and an index.

In a database of its own on the benchmark's cluster (bootstrapped; no other
benchmark's tenants in its registry), ``count`` tenants are made in bulk at
revision ``b1`` (schema, an isolated table ``items``, Alembic's version table
at b1: what a first `tenantdb migrate` leaves), then `tenantdb migrate` runs
as a process, as a pipeline would, to revision ``b2`` (``ADD COLUMN`` and
``CREATE INDEX``) in three disjoint groups:

- A, ``--jobs 1`` over ``sample`` tenants: the one-job throughput;
- B, ``--jobs N`` over ``sample`` tenants and C, ``--jobs N`` over the rest:
  the N-job throughput (group C) and the peak memory of the process tree at
  two tenant counts (B, C: it must not grow with the count);
- then the no-op rerun over every tenant (goal: within 3 s at 5,000).

Goals: N-job throughput at least 0.8 x N x the one-job throughput (N up to the
cores); memory flat (C's peak at most 1.2x B's); the no-op under 3 s.
"""

from __future__ import annotations

import json
import os
import tempfile
import textwrap
from pathlib import Path

from psycopg import sql

from bench.measure import Figure, run_process
from bench.server import ENV, BenchServer

ROOT = Path(__file__).resolve().parent.parent
DB = "bench_migrate"
BULK = 250
"""Tenants made per round trip in the set-up."""

_REV = '''\
from alembic import op
import sqlalchemy as sa
revision = {rev!r}
down_revision = {down!r}
branch_labels = None
depends_on = None
def upgrade():
{body}
'''


def script_dir(base: Path) -> Path:
    d = base / "migrations"
    (d / "versions").mkdir(parents=True)
    (d / "env.py").write_text((ROOT / "migrations" / "tenant" / "env.py").read_text())
    b1 = ('    op.create_table("items", sa.Column("id", sa.BigInteger, primary_key=True),\n'
          '                    sa.Column("tenant_id", sa.Uuid, nullable=False), sa.Column("name", sa.Text))')
    b2 = ('    op.add_column("items", sa.Column("note", sa.Text))\n'
          '    op.create_index("ix_items_note", "items", ["note"])')
    (d / "versions" / "b1.py").write_text(_REV.format(rev="b1", down=None, body=b1))
    (d / "versions" / "b2.py").write_text(_REV.format(rev="b2", down="b1", body=b2))
    return d


def _settings(server: BenchServer):
    return server.settings.replaced(db_name=DB)


def setup(server: BenchServer, count: int) -> list[str]:
    """A bootstrapped database with ``count`` tenants at b1, made in bulk; their slugs."""
    from tenantdb.database.bootstrap import steps as bootstrap
    from tenantdb.database.bootstrap import roles
    from tenantdb.database.tenancy.slugs import schema_name

    s = _settings(server)
    server.cluster.create_database(DB, s.master_username)
    bootstrap.run(s, master_dsn=server.master_dsn())
    slugs = [f"m{i:05d}" for i in range(count)]
    with server.connect_master(DB, application_name="bench-bulk") as conn:
        for i in range(0, count, BULK):
            parts: list[sql.Composable] = []
            for slug in slugs[i:i + BULK]:
                schema = schema_name(s, slug)
                parts += roles.tenant_schema_sql(s, schema)
                parts.append(sql.SQL("INSERT INTO {} (slug, schema_name) VALUES ({}, {})").format(
                    sql.Identifier(s.tenancy_schema, "tenants"), sql.Literal(slug), sql.Literal(schema)))
                parts.append(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(s.migrator_role)))
                items = sql.Identifier(schema, "items")
                parts.append(sql.SQL("CREATE TABLE {} (id bigint PRIMARY KEY, tenant_id uuid NOT NULL, name text)")
                             .format(items))
                parts.append(sql.SQL("SELECT {}.enable_isolation({}::regclass)").format(
                    sql.Identifier(s.tenancy_schema), sql.Literal(items.as_string(conn))))
                version = sql.Identifier(schema, "alembic_version")
                parts.append(sql.SQL("CREATE TABLE {} (version_num varchar(32) PRIMARY KEY); "
                                     "INSERT INTO {} VALUES ('b1')").format(version, version))
                parts.append(sql.SQL("RESET ROLE"))
            conn.execute(sql.SQL(";\n").join(parts))
            conn.commit()
    return slugs


def _migrate(server: BenchServer, overlay: Path, d: Path, jobs: int | None, slugs: list[str] | None):
    cmd = [str(ROOT / ".venv" / "bin" / "tenantdb"), "--settings", str(overlay), "migrate", "--env", ENV,
           "--migrations", str(d), "--format", "json"]
    cmd += ["--jobs", str(jobs)] if jobs else []
    for slug in slugs or ():
        cmd += ["--tenant", slug]
    env = {**os.environ, "TENANTDB_MASTER_DSN": server.master_dsn(DB)}  # never in argv
    got = run_process(cmd, env=env, timeout=7200)
    if got.returncode != 0:
        raise RuntimeError(f"tenantdb migrate exited {got.returncode}: {got.stderr.strip()[-300:]}")
    report = json.loads(got.stdout)
    return got, report


def run(server: BenchServer, count: int, sample: int, jobs: int | None = None) -> list[Figure]:
    cores = len(os.sched_getaffinity(0))
    n = jobs or cores
    with tempfile.TemporaryDirectory(prefix="bench-migrate-") as tmp:
        base = Path(tmp)
        d = script_dir(base)
        overlay = server.overlay(base)
        overlay.write_text(overlay.read_text() + f'db_name = "{DB}"\n')
        slugs = setup(server, count)
        a, b, c = slugs[:sample], slugs[sample:2 * sample], slugs[2 * sample:]
        one, _ = _migrate(server, overlay, d, 1, a)
        small, _ = _migrate(server, overlay, d, n, b)
        big, report = _migrate(server, overlay, d, n, c)
        noop, again = _migrate(server, overlay, d, None, None)
    migrated = report["summary"]["migrated"]
    assert migrated == len(c) and again["summary"]["current"] == count, (report["summary"], again["summary"])
    tp1, tpn = len(a) / one.seconds, len(c) / big.seconds
    want = 0.8 * min(n, cores) * tp1
    growth = big.peak_rss / max(small.peak_rss, 1)
    return [
        Figure("migrate.jobs1.throughput", round(tp1, 2), None, "tenants/s", None, None, runs=1,
               note=f"--jobs 1 over {len(a)} tenants: {one.seconds:.1f} s wall (a 5,000-tenant run at this rate: "
                    f"{count / tp1:.0f} s)"),
        Figure("migrate.parallel.throughput", round(tpn, 2), None, "tenants/s",
               f">= 0.8 x {min(n, cores)} x the one-job throughput ({want:.2f})", tpn >= want, runs=1,
               note=f"--jobs {n} over {len(c)} tenants: {big.seconds:.1f} s wall; {tpn / tp1:.2f}x the one-job "
                    f"rate on {cores} core(s)"),
        Figure("migrate.noop", round(noop.seconds, 3), None, "s", "< 3 s", noop.seconds < 3, runs=1,
               note=f"the rerun over all {count} tenants as a process (interpreter, imports, one catalog query)"),
        Figure("migrate.memory.growth", round(growth, 3), None, "x", "<= 1.2x (flat)", growth <= 1.2, runs=1,
               note=f"peak RSS of the process tree, --jobs {n}: {big.peak_rss / 2**20:.0f} MiB over {len(c)} "
                    f"tenants vs {small.peak_rss / 2**20:.0f} MiB over {len(b)}"),
    ]


def main() -> None:  # pragma: no cover - `python -m bench.b_migrate [COUNT SAMPLE]` by hand
    import sys

    count, sample = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (5000, 200)
    with BenchServer() as server:
        for f in run(server, count, sample):
            print(textwrap.shorten(f"{f.name}: {f.figure} {f.unit} goal {f.goal} met {f.met}; {f.note}", 300))


if __name__ == "__main__":  # pragma: no cover
    main()
