"""4. Tenant scale: tenants with 10 isolated tables each, built up to 500 and then 5,000.

Two paths, both measured and named in the results:

- the real path, per tenant: ``tenantdb.database.tenancy.tenants.create`` (its own connection,
  registry check, schema, grants, registry row, one transaction), then, as an
  application's migration would, the 10 tables made as the migrator, each
  followed by ``tenancy.enable_isolation`` (one connection per tenant);
- the bulk path, used to reach the large counts in reasonable time: the same
  SQL (``roles.tenant_schema_sql``, the registry insert, the tables and
  ``enable_isolation`` as the migrator) for a batch of tenants in one round trip
  on an open connection. Its time per tenant is the floor of the real path.

At each checkpoint: the real path's time per tenant over a sample of tenants
(growth = how it changes with the tenant count), the ISO posture query over
everything (goal at 5,000 x 10: under 2 s), and verify's database-side round
trips (bench.b_verify). Growth: a least-squares fit of log(posture time) on
log(tenants) over every checkpoint (not the two ends), reported as the factor
for 10x the tenants (goal: at most 10.5x) with the fit's R^2.
"""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench import b_verify
from bench.measure import Figure, Samples, interleave, skipped
from bench.server import BenchServer

TABLES = 10
_TABLE = ("CREATE TABLE {t} (id bigint PRIMARY KEY, tenant_id uuid NOT NULL, name text, "
          "created_at timestamptz DEFAULT now()); SELECT {tenancy}.enable_isolation({r}::regclass)")

FLOOR_SCAN = """SELECT count(*), count(p.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_policy p ON p.polrelid = c.oid WHERE c.relkind IN ('r', 'p')"""


def _tables_sql(s, schema: str, conn: psycopg.Connection) -> sql.Composable:
    stmts = []
    for j in range(TABLES):
        t = sql.Identifier(schema, f"table_{j:02d}")
        stmts.append(sql.SQL(_TABLE).format(t=t, r=sql.Literal(t.as_string(conn)),
                                            tenancy=sql.Identifier(s.tenancy_schema)))
    return sql.SQL("; ").join(stmts)


def real_create(server: BenchServer, slug: str) -> float:
    """One tenant the real way; seconds."""
    from tenantdb.database.tenancy import slugs
    from tenantdb.database.tenancy import tenants

    s = server.settings
    t0 = time.perf_counter()
    tenants.create(s, slug, master_dsn=server.master_dsn())
    with server.connect_master(s.db_name, application_name="bench-migration") as conn:
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(s.migrator_role)))
        conn.execute(_tables_sql(s, slugs.schema_name(s, slug), conn))
        conn.commit()
    return time.perf_counter() - t0


def bulk_create(conn: psycopg.Connection, server: BenchServer, slugs: list[str]) -> float:
    """Tenants in one round trip on an open master connection; seconds."""
    from tenantdb.database.bootstrap import roles
    from tenantdb.database.tenancy.slugs import schema_name

    s = server.settings
    parts: list[sql.Composable] = []
    for slug in slugs:
        schema = schema_name(s, slug)
        parts += roles.tenant_schema_sql(s, schema)
        parts.append(sql.SQL("INSERT INTO {} (slug, schema_name) VALUES ({}, {})").format(
            sql.Identifier(s.tenancy_schema, "tenants"), sql.Literal(slug), sql.Literal(schema)))
        parts.append(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(s.migrator_role)))
        parts.append(_tables_sql(s, schema, conn))
        parts.append(sql.SQL("RESET ROLE"))
    t0 = time.perf_counter()
    conn.execute(sql.SQL(";\n").join(parts))
    conn.commit()
    return time.perf_counter() - t0


def posture_and_floor(server: BenchServer, repeats: int) -> tuple[Samples, Samples]:
    def floor() -> float:
        with server.connect_master() as conn:
            t0 = time.perf_counter()
            conn.execute(FLOOR_SCAN).fetchall()
            return time.perf_counter() - t0
    return tuple(interleave(repeats, lambda: b_verify.posture_once(server), floor))  # type: ignore[return-value]  # two fns, two Samples


def run(server: BenchServer, checkpoints: list[int], sample: int, repeats: int, batch: int,
        plot: Path | None) -> list[Figure]:
    from tenantdb.database.bootstrap import steps as bootstrap

    server.reset()
    bootstrap.run(server.settings, master_dsn=server.master_dsn())
    s = server.settings
    rows = []  # (tenants, real s/tenant median, bulk s/tenant, posture median s)
    figures: list[Figure] = []
    count = 0
    with server.connect_master(s.db_name, application_name="bench-bulk") as conn:
        for target in checkpoints:
            bulk_times: list[float] = []
            while count < target - 2 * sample:
                n = min(batch, target - 2 * sample - count)
                bulk_times.append(bulk_create(conn, server, [f"t{i:05d}" for i in range(count, count + n)]) / n)
                count += n
            real = []
            bulk_sample = []
            for _ in range(sample):  # the real path and the floor alternate, one tenant each
                real.append(real_create(server, f"t{count:05d}"))
                count += 1
                if count < target:
                    bulk_sample.append(bulk_create(conn, server, [f"t{count:05d}"]))
                    count += 1
            while count < target:  # the sample used two per step: top up with the bulk path
                bulk_create(conn, server, [f"t{count:05d}"])
                count += 1
            posture, floor = posture_and_floor(server, repeats)
            per_real, per_bulk = Samples(real), Samples(bulk_sample or bulk_times)
            rows.append((target, per_real.median, per_bulk.median, posture.median, floor.median))
            figures.append(Figure(f"tenants.create.per_tenant@{target}", round(per_real.median, 4),
                                  round(per_bulk.median, 4), "s", None, None, spread=per_real.spread(4),
                                  runs=len(real), note=f"real path (tenants.create + {TABLES} tables as the "
                                  "migrator) over a sample at this count; floor: the same SQL in one round trip"))
            figures.append(Figure(f"tenants.posture@{target}", round(posture.median, 4), round(floor.median, 4), "s",
                                  None, None, spread=posture.spread(4), runs=len(posture.values),
                                  note=f"ISO posture query over {target} tenants x {TABLES} tables; floor: one "
                                       "scan of pg_class joined to pg_policy"))
            if target in (checkpoints[0], checkpoints[-1]):
                figures += b_verify.measure(server, target, repeats)
    try:
        figures.append(b_verify.signed_round_trips(server, checkpoints[-1]))
    except Exception as exc:  # noqa: BLE001 - the plain figures stand; this goal is then not met
        figures.append(skipped(f"verify.db.signed.round_trips@{checkpoints[-1]}", "round trips",
                               "<= 10 round trips", f"signed mode: {type(exc).__name__}: {str(exc)[:200]}"))
    figures += _goals(rows)
    if plot is not None:
        from bench import png

        xs = [float(r[0]) for r in rows]
        png.panels(plot, [(xs, [r[3] for r in rows], png.BLUE), (xs, [r[1] * 1000 for r in rows], png.ORANGE)])
    return figures


def loglog_fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least squares of log y on log x over every point: (slope, R^2). Time grows as x ** slope."""
    import math

    lx, ly = [math.log(x) for x in xs], [math.log(y) for y in ys]
    mx, my = sum(lx) / len(lx), sum(ly) / len(ly)
    sxx = sum((x - mx) ** 2 for x in lx)
    slope = sum((x - mx) * (y - my) for x, y in zip(lx, ly, strict=True)) / sxx
    ss_res = sum((y - (my + slope * (x - mx))) ** 2 for x, y in zip(lx, ly, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ly)
    return slope, (1 - ss_res / ss_tot) if ss_tot else 1.0


def _goals(rows: list[tuple]) -> list[Figure]:
    (n0, real0, _, post0, _), (n1, real1, _, post1, floor1) = rows[0], rows[-1]
    xs, ys = [float(r[0]) for r in rows], [r[3] for r in rows]
    slope, r2 = loglog_fit(xs, ys)
    fslope, fr2 = loglog_fit(xs, [r[4] for r in rows])
    growth = 10 ** slope
    points = ", ".join(f"{int(x)}: {y:.4f} s" for x, y in zip(xs, ys, strict=True))
    return [
        Figure(f"tenants.posture.goal@{n1}", round(post1, 4), None, "s", "< 2 s", post1 < 2.0,
               note=f"ISO posture query over {n1} tenants x {TABLES} tables (an absolute goal; the plain scan of "
                    f"pg_class joined to pg_policy takes {floor1:.4f} s)"),
        Figure("tenants.posture.growth", round(growth, 3), None, "x", "<= 10.5x for 10x tenants", growth <= 10.5,
               runs=len(rows), spread=f"log-log fit over {len(rows)} points, R^2 {r2:.4f}",
               note=f"posture time ~ tenants^{slope:.3f} (least squares on log-log over every measured point: "
                    f"{points}), so 10x the tenants costs {growth:.2f}x; the catalog-scan floor grows as "
                    f"tenants^{fslope:.3f} (R^2 {fr2:.3f}, {10 ** fslope:.2f}x for 10x); ends only: "
                    f"{post1 / post0:.2f}x for {n1 / n0:.0f}x"),
        Figure("tenants.create.growth", round(real1 / real0, 3), None, "x", None, None,
               note=f"time per tenant at {n1} / at {n0} (real path); 1.0 = constant"),
    ]
