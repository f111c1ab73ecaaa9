"""`tenantdb local up|down|status|env`: the whole pipeline on this machine, and the exports that reach it."""

from __future__ import annotations

import argparse

from tenantdb.commands import _options as o

HELP = "the whole pipeline on this machine: moto, Terraform, PostgreSQL"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="local_command", required=True, parser_class=type(p))
    up = o.common(sub.add_parser("up", help="start, deploy, bootstrap and verify the local environment"))
    o.fmt_arg(up, o.FORMATS_SIMPLE)
    o.output_arg(up, o.FORMATS_SIMPLE)
    o.common(sub.add_parser("down", help="stop what `local up` started and remove its state"))
    st = o.common(sub.add_parser("status", help="what runs, where"))
    o.fmt_arg(st, o.FORMATS_SIMPLE)
    ev = o.common(sub.add_parser("env", help='exports for psql, clients and npx cdktf: eval "$(tenantdb local env)"'))
    ev.add_argument("--role", choices=("app", "migrator"), default="app", help="whose login (default: app)")
    ev.add_argument("--password", action="store_true", help="print only the password, for $(...) (never a terminal)")
    o.output_arg(st, o.FORMATS_SIMPLE)


def run(args: argparse.Namespace) -> int:
    from tenantdb.local import pipeline
    s = o.load_settings(args, "local")
    if args.local_command == "up":
        with o.tee(args.output):
            return pipeline.up(s, fmt=args.format, overlay=args.settings)
    if args.local_command == "down":
        return pipeline.down(s)
    if args.local_command == "env":
        import sys

        from tenantdb.local import env
        sys.stdout.write(env.password(s, args.role) if args.password else env.exports(s, args.role, args.settings))
        return 0
    with o.tee(args.output):
        return pipeline.status(s, fmt=args.format)
