"""`tenantdb verify`: prove every acceptance criterion against the live system."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tenantdb.commands import _list
from tenantdb.commands import _options as o

if TYPE_CHECKING:
    from tenantdb.settings import Settings

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
    _require_local_up(s, args)
    rep = verify.run(s, endpoint=args.endpoint, master_dsn=args.master_dsn)
    o.write(report.render([rep], args.format), args.output)
    skips = rep.summary["skip"]
    if args.fail_on_skip and skips and rep.ok:
        o.warn(f"verify: {skips} check(s) SKIP and --fail-on-skip is set: exit 1")
        return 1
    return rep.exit_code


def _require_local_up(s: Settings, args: argparse.Namespace) -> None:
    """On the local environment with nothing of `local up` running, one line instead of a report of
    ERRORs that all say the same (the emulator and the cluster are not there)."""
    from tenantdb.errors import ToolkitError

    if s.environment != "local" or args.endpoint or args.master_dsn or not s.aws_endpoint_url:
        return
    from tenantdb.local.pipeline import describe

    if not any(p["running"] for p in describe(s)["processes"].values()):
        raise ToolkitError("the local environment is not running: tenantdb local up")
