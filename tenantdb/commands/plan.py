"""`tenantdb plan`: terraform plan, guarded against replacing stateful resources."""

from __future__ import annotations

import argparse

from tenantdb.commands import _options as o

HELP = "terraform plan with a guard against destroying stateful resources"


def add_arguments(p: argparse.ArgumentParser) -> None:
    o.common(p)
    o.env_arg(p)
    p.add_argument("--out", metavar="FILE", help="where to save the plan")
    p.add_argument("--allow-replace", action="append", default=[], metavar="ADDRESS",
                   help="let the plan replace or destroy this resource address (repeatable)")
    o.fmt_arg(p, o.FORMATS_REPORT)
    o.output_arg(p)


def run(args: argparse.Namespace) -> int:
    from tenantdb import report
    from tenantdb.infra import plan
    s = o.load_settings(args, args.env)
    with o.progress(f"plan {args.env}: synth, terraform init, plan, guard"):
        rep = plan.run(s, out=args.out, allow_replace=args.allow_replace, overlay=args.settings)
    o.write(report.render([rep], args.format), args.output)
    return rep.exit_code
