"""`tenantdb tenant create|list|drop`: tenant schemas and their registry."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from tenantdb.commands import _options as o
from tenantdb.settings import Settings

HELP = "tenant schemas: create, list, drop; token"

LIST_COLUMNS = ("slug", "tenant_id", "schema", "tables", "isolated", "revision", "behind", "created_at")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="tenant_command", required=True, parser_class=type(p))
    tc = o.common(sub.add_parser("create", help="create schema tenant_<slug> and register it"))
    tc.add_argument("slug")
    o.env_arg(tc)
    o.conn_args(tc)
    tl = o.common(sub.add_parser("list", help="list registered tenants"))
    o.env_arg(tl)
    o.conn_args(tl)
    o.fmt_arg(tl, o.FORMATS_SIMPLE)
    o.output_arg(tl, o.FORMATS_SIMPLE)
    td = o.common(sub.add_parser("drop", help="drop a tenant's schema and registry row"))
    td.add_argument("slug")
    o.env_arg(td)
    o.conn_args(td)
    td.add_argument("--confirm", metavar="SLUG", help="repeat the slug to confirm")
    tt = o.common(sub.add_parser("token", help="print a signed tenant context token (tenant_context = signed)"))
    tt.add_argument("slug")
    o.env_arg(tt)
    o.conn_args(tt)
    tt.add_argument("--ttl", type=int, metavar="SECONDS", help="token lifetime (default 300, at most "
                    "context_token_max_ttl_s)")


def run(args: argparse.Namespace) -> int:
    from tenantdb.database.tenancy import tenants
    s = o.load_settings(args, args.env)
    conn = {"endpoint": args.endpoint, "master_dsn": args.master_dsn}
    if args.tenant_command == "create":
        print(tenants.create(s, args.slug, **conn))
        return 0
    if args.tenant_command == "list":
        o.write(render(with_migrations(s, tenants.list_tenants(s, **conn)), args.format), args.output)
        return 0
    if args.tenant_command == "token":
        from tenantdb.database.tenancy import context_key
        print(context_key.token(s, args.slug, ttl_s=args.ttl, **conn))
        return 0
    return tenants.drop(s, args.slug, confirm=args.confirm, **conn)


def with_migrations(s: Settings, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The registry's rows with ``revision`` (its record of the tenant's migrations; None when nothing
    is recorded) and ``behind`` (against settings tenant_migrations' head; None when none is set, Alembic
    is not installed, or the record names a revision the directory does not know). No database work:
    the record is a column of the registry, so nothing in a tenant schema can stall or fail the list."""
    loaded = None
    if s.tenant_migrations:
        from tenantdb.database.migrate import scripts
        from tenantdb.errors import UsageError

        try:
            loaded = scripts.load(scripts.resolve_dir(None, s.tenant_migrations))
        except UsageError:
            loaded = None  # not installed or not a script directory: `tenantdb migrate` says which
    for row in rows:
        recorded = tuple(sorted(row.pop("revisions", None) or ()))
        row["revision"] = ",".join(recorded) or None
        known = loaded is not None and not loaded.unknown(recorded)
        row["behind"] = (not loaded.is_current(recorded or None)) if known and loaded is not None else None
    return rows


def render(rows: list[dict[str, Any]], fmt: str) -> str:
    """``json``: a list of objects; ``table``: fixed-width columns for people."""
    from tenantdb import report

    plain = [{k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()} for r in rows]
    if fmt == "json":
        return json.dumps(plain, indent=2)
    if not plain:
        return "no tenants"
    return "\n".join(report.columns(plain, LIST_COLUMNS))  # true/false, none: no Python reprs
