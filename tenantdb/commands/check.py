"""`tenantdb check`: synth-and-plan checks, offline."""

from __future__ import annotations

import argparse

from tenantdb import settings as settings_mod
from tenantdb.commands import _list
from tenantdb.commands import _options as o

HELP = "synth-and-plan checks: terraform validate + assertions + policy scan"


def add_arguments(p: argparse.ArgumentParser) -> None:
    o.common(p)
    o.env_arg(p, required=False)
    o.fmt_arg(p, o.FORMATS_REPORT)
    o.output_arg(p)
    _list.list_arg(p, "check")


def run(args: argparse.Namespace) -> int:
    if args.list:
        o.write(_list.render("check", args.format), args.output)
        return 0
    from tenantdb import report
    from tenantdb.infra import check
    envs = [args.env] if args.env else list(settings_mod.ENVIRONMENTS)
    targets = [o.load_settings(args, e) for e in envs]
    with o.progress(f"check {', '.join(envs)}: synth, terraform validate, assertions, policy scan"):
        reports = check.run(targets, overlay=args.settings)
    o.write(report.render(reports, args.format), args.output)
    return 0 if all(r.ok for r in reports) else 1
