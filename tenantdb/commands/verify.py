"""`tenantdb verify`: prove every acceptance criterion against the live system."""

from __future__ import annotations

import argparse

from tenantdb.commands import _list
from tenantdb.commands import _options as o

HELP = "prove every acceptance criterion against the live system"


def add_arguments(p: argparse.ArgumentParser) -> None:
    o.common(p)
    o.env_arg(p)
    o.fmt_arg(p, o.FORMATS_REPORT)
    o.output_arg(p)
    _list.list_arg(p, "verify")
    o.conn_args(p)
    p.add_argument("--fail-on-skip", action="store_true",
                   help="exit 1 when any check is SKIP (for pipelines that must not accept a skipped check)")


def run(args: argparse.Namespace) -> int:
    if args.list:
        o.write(_list.render("verify", args.format), args.output)
        return 0
    from tenantdb import report, verify
    s = o.load_settings(args, args.env)
    rep = verify.run(s, endpoint=args.endpoint, master_dsn=args.master_dsn)
    o.write(report.render([rep], args.format), args.output)
    skips = rep.summary["skip"]
    if args.fail_on_skip and skips and rep.ok:
        o.warn(f"verify: {skips} check(s) SKIP and --fail-on-skip is set: exit 1")
        return 1
    return rep.exit_code
