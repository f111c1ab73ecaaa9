"""`tenantdb verify`: prove every acceptance criterion against the live system."""

from __future__ import annotations

import argparse

from tenantdb.commands import _options as o

HELP = "prove every acceptance criterion against the live system"


def add_arguments(p: argparse.ArgumentParser) -> None:
    o.common(p)
    o.env_arg(p)
    o.fmt_arg(p, o.FORMATS_REPORT)
    o.output_arg(p)
    o.conn_args(p)


def run(args: argparse.Namespace) -> int:
    from tenantdb import report, verify
    s = o.load_settings(args, args.env)
    rep = verify.run(s, endpoint=args.endpoint, master_dsn=args.master_dsn)
    o.write(report.render([rep], args.format), args.output)
    return rep.exit_code
