"""`tenantdb local up|down|status`: the whole pipeline on this machine."""

from __future__ import annotations

import argparse

from tenantdb.commands import _options as o

HELP = "the whole pipeline on this machine: moto, Terraform, PostgreSQL"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="local_command", required=True, parser_class=type(p))
    up = o.common(sub.add_parser("up", help="start, deploy, bootstrap and verify the local environment"))
    o.fmt_arg(up, o.FORMATS_SIMPLE)
    o.common(sub.add_parser("down", help="stop what `local up` started and remove its state"))
    st = o.common(sub.add_parser("status", help="what runs, where"))
    o.fmt_arg(st, o.FORMATS_SIMPLE)


def run(args: argparse.Namespace) -> int:
    from tenantdb.local import pipeline
    s = o.load_settings(args, "local")
    if args.local_command == "up":
        return pipeline.up(s, fmt=args.format, overlay=args.settings)
    if args.local_command == "down":
        return pipeline.down(s)
    return pipeline.status(s, fmt=args.format)
