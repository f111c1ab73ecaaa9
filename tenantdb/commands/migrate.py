"""`tenantdb migrate`: bring every tenant schema (or some) to the head of an Alembic script directory."""

from __future__ import annotations

import argparse
import sys

from tenantdb.commands import _options as o

HELP = "run the tenant migrations (Alembic) in every tenant schema, in parallel, resumable"


def _jobs(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r}: a whole number of at least 1")
    return int(value)


def _seconds(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 3600:
        raise argparse.ArgumentTypeError(f"{value!r}: whole seconds from 1 to 3600")
    return int(value)


def add_arguments(p: argparse.ArgumentParser) -> None:
    o.common(p)
    o.env_arg(p)
    o.conn_args(p)
    p.add_argument("--migrations", metavar="DIR",
                   help="Alembic script directory (default: settings tenant_migrations)")
    p.add_argument("--jobs", type=_jobs, metavar="N",
                   help="tenants migrated at once (default: half the free connections, at most the cores)")
    p.add_argument("--tenant", dest="slugs", action="append", default=[], metavar="SLUG",
                   help="only this tenant (repeatable); default: every registered tenant")
    p.add_argument("--to", metavar="REV", help="target revision (default: head)")
    p.add_argument("--sql", action="store_true", help="print the SQL that would run, run nothing")
    p.add_argument("--lock-timeout", type=_seconds, default=60, metavar="SECONDS",
                   help="how long a tenant waits for a lock (its registry row, a table in use) before it "
                        "fails alone, naming the holder (default 60)")
    o.fmt_arg(p, o.FORMATS_SIMPLE)
    o.output_arg(p, o.FORMATS_SIMPLE)


def run(args: argparse.Namespace) -> int:
    from tenantdb.database.migrate import scripts

    scripts.require_alembic()
    from tenantdb.database.migrate import output, runner

    s = o.load_settings(args, args.env)
    result = runner.run(s, runner.Options(migrations=args.migrations, jobs=args.jobs, slugs=args.slugs, to=args.to,
                                          sql=args.sql, endpoint=args.endpoint, master_dsn=args.master_dsn,
                                          lock_timeout_s=args.lock_timeout))
    o.write(output.render(result, args.format), args.output)
    if result.failed:
        print(f"tenantdb: error: migrate failed for {len(result.failed)} tenant(s): {', '.join(result.failed)} "
              "(the others are done; fix and rerun, which runs only the tenants behind)", file=sys.stderr)
        return 1
    if result.posture["status"] not in ("PASS", "SKIP"):
        print(f"tenantdb: error: migrated schemas' isolation posture: {result.posture['status']}", file=sys.stderr)
        return 1
    return 0
