"""`tenantdb tenant create|list|drop`: tenant schemas and their registry."""

from __future__ import annotations

import argparse

from tenantdb.commands import _options as o

HELP = "tenant schemas: create, list, drop; token"


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
    from tenantdb.database import tenants
    s = o.load_settings(args, args.env)
    conn = {"endpoint": args.endpoint, "master_dsn": args.master_dsn}
    if args.tenant_command == "create":
        print(tenants.create(s, args.slug, **conn))
        return 0
    if args.tenant_command == "list":
        o.write(tenants.render(tenants.list_tenants(s, **conn), args.format), args.output)
        return 0
    if args.tenant_command == "token":
        from tenantdb.database import context_key
        print(context_key.token(s, args.slug, ttl_s=args.ttl, **conn))
        return 0
    return tenants.drop(s, args.slug, confirm=args.confirm, **conn)
