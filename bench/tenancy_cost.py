"""Measure what schema-per-tenant costs (docs/tenancy.md, "What 500 tenants cost").

    .venv/bin/python bench/tenancy_cost.py [--tenants 500] [--tables 10] [--json]

Starts a throwaway local cluster (the RDS stand-in: TLS, a master without
SUPERUSER) in /tmp, bootstraps it, creates the tenants with ``tenantdb.database.tenancy.tenants``
and, as the migrator, ``--tables`` isolated tables each (enable_isolation: RLS,
two policies, a tenant_id index). Then it reports:

- time per tenant (schema + registry row) and per isolated table;
- catalog size: the database, and the pg_catalog tables that grow (pg_class,
  pg_attribute, pg_depend, ...), before and after;
- per-connection cache memory: one app_user connection reads tables one after
  another; after each step CacheMemoryContext (relcache, catcache) and its
  child contexts (index info, row security descriptors, ...) are read from
  pg_backend_memory_contexts (PostgreSQL 15);
- the ISO posture query's time over all of it.

The cluster is destroyed at the end.
"""

from __future__ import annotations

import argparse
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tenantdb import settings as settings_mod  # noqa: E402 - after the sys.path line that finds the package
from tenantdb.database import bootstrap  # noqa: E402 - after the sys.path line
from tenantdb.database.plumbing.connection import PINNED_OPTIONS  # noqa: E402 - after the sys.path line
from tenantdb.database import tenants  # noqa: E402 - after the sys.path line
from tenantdb.local.postgres import SUPERUSER, Cluster, free_port  # noqa: E402 - after the sys.path line
from tenantdb.verify import posture  # noqa: E402 - after the sys.path line that finds the package

CATALOG_SIZE = """
SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c
WHERE c.relnamespace = 'pg_catalog'::regnamespace AND c.relkind = 'r' ORDER BY 2 DESC"""

CACHE_MEMORY = """
SELECT coalesce(sum(total_bytes) FILTER (WHERE name = 'CacheMemoryContext' OR parent = 'CacheMemoryContext'), 0),
       coalesce(sum(total_bytes), 0)
FROM pg_backend_memory_contexts"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=500)
    ap.add_argument("--tables", type=int, default=10)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    base = Path(tempfile.mkdtemp(prefix="tenantdb-cost-", dir="/tmp"))
    base.chmod(0o755)
    cluster = Cluster(base, free_port())
    out: dict[str, object] = {"tenants": args.tenants, "tables_per_tenant": args.tables}
    try:
        cluster.init()
        rds_only = settings_mod.Settings.model_fields["aws_internal_roles"].default
        s = settings_mod.load("dev", db_endpoint=f"{cluster.host}:{cluster.port}",
                              aws_internal_roles=(*rds_only, SUPERUSER))
        master_pw = secrets.token_urlsafe(24)
        cluster.ensure_master_role(s.master_username, master_pw)
        cluster.create_database(s.db_name, s.master_username)
        dsn = cluster.tcp_conninfo(s.master_username, master_pw, "postgres")
        bootstrap.run(s, master_dsn=dsn)

        with cluster.superuser_connect(s.db_name) as su:
            before = dict(su.execute(CATALOG_SIZE).fetchall())
            db_before = su.execute("SELECT pg_database_size(current_database())").fetchone()[0]

        t0 = time.perf_counter()
        ids = [tenants.create(s, f"t{i:05d}", master_dsn=dsn) for i in range(args.tenants)]
        t_tenants = time.perf_counter() - t0
        t0 = time.perf_counter()
        with cluster.superuser_connect(s.db_name) as su:
            su.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(s.migrator_role)))
            for i in range(args.tenants):
                stmts = []
                for j in range(args.tables):
                    t = sql.Identifier(f"tenant_t{i:05d}", f"table_{j:02d}")
                    stmts.append(sql.SQL("CREATE TABLE {t} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
                                         "tenant_id uuid NOT NULL, name text, created_at timestamptz DEFAULT now()); "
                                         "SELECT tenancy.enable_isolation({r}::regclass)").format(
                        t=t, r=sql.Literal(t.as_string(su))))
                su.execute(sql.SQL("; ").join(stmts))
        t_tables = time.perf_counter() - t0
        n_tables = args.tenants * args.tables
        out["seconds_per_tenant"] = round(t_tenants / args.tenants, 4)
        out["seconds_per_isolated_table"] = round(t_tables / n_tables, 4)

        with cluster.superuser_connect(s.db_name) as su:
            after = dict(su.execute(CATALOG_SIZE).fetchall())
            db_after = su.execute("SELECT pg_database_size(current_database())").fetchone()[0]
            app_pw = secrets.token_urlsafe(24)
            su.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(s.app_role), sql.Literal(app_pw)))
            # Superuser-only by default; granted on this throwaway cluster for the measurement alone.
            su.execute(sql.SQL("GRANT SELECT ON pg_backend_memory_contexts TO {0}; GRANT EXECUTE ON FUNCTION "
                               "pg_get_backend_memory_contexts() TO {0}").format(sql.Identifier(s.app_role)))
        growth = {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0) > 0}
        out["database_bytes_before"] = db_before
        out["database_bytes_after"] = db_after
        out["catalog_growth_bytes"] = dict(sorted(growth.items(), key=lambda kv: -kv[1])[:8])
        out["catalog_growth_total_bytes"] = sum(growth.values())

        # Per-connection cache memory as one app_user session touches more and more tables.
        tables = [(f"tenant_t{i:05d}", f"table_{j:02d}") for i in range(args.tenants) for j in range(args.tables)]
        steps = sorted({0, 1, 10, 100, 500, 1000, 2000, n_tables} & set(range(n_tables + 1)))
        memory = []
        with psycopg.connect(cluster.tcp_conninfo(s.app_role, app_pw, s.db_name), autocommit=True) as app:
            app.execute("SELECT set_config(%s, %s, false)", (s.tenant_setting, ids[0]))
            touched = 0
            for step in steps:
                while touched < step:
                    schema, name = tables[touched]
                    app.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, name)))
                    touched += 1
                cache, total = app.execute(CACHE_MEMORY).fetchone()
                memory.append({"tables_touched": step, "cache_bytes": int(cache), "backend_total_bytes": int(total)})
        out["memory"] = memory
        if len(memory) >= 2:
            last, first = memory[-1], memory[0]
            out["cache_bytes_per_table"] = round(
                (last["cache_bytes"] - first["cache_bytes"]) / max(1, last["tables_touched"]))

        # The posture query over everything.
        with psycopg.connect(dsn.replace("dbname=postgres", f"dbname={s.db_name}"),  # pinned, as verify's
                             options=PINNED_OPTIONS) as conn:
            runs = []
            for _ in range(5):
                t0 = time.perf_counter()
                findings, counts = posture.collect(conn, s)
                runs.append(time.perf_counter() - t0)
            out["posture_seconds_median"] = round(statistics.median(runs), 3)
            out["posture_findings"] = sum(len(v) for v in findings.values())
            out["posture_tables"] = counts["tables"]
    finally:
        cluster.destroy()
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        for k, v in out.items():
            print(f"{k}: {v}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
