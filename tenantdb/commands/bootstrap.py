"""`tenantdb bootstrap`: roles, grants, the isolation foundation and the secrets."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from tenantdb.commands import _options as o

if TYPE_CHECKING:
    from tenantdb.database.bootstrap.steps import Result

HELP = "create roles, grants and the isolation foundation; fill the secret"


def add_arguments(p: argparse.ArgumentParser) -> None:
    o.common(p)
    o.env_arg(p)
    o.conn_args(p)
    p.add_argument("--rotate-app-password", action="store_true", help="set a new app_user password")
    p.add_argument("--rotate-context-key", action="store_true",
                   help="signed tenant context: new signing key; the old one verifies for one token lifetime")
    o.fmt_arg(p, o.FORMATS_REPORT)
    o.output_arg(p)


def run(args: argparse.Namespace) -> int:
    from tenantdb.database.bootstrap import steps as bootstrap
    s = o.load_settings(args, args.env)
    if args.rotate_context_key and s.tenant_context != "signed":
        from tenantdb.errors import UsageError
        raise UsageError(f"--rotate-context-key: tenant_context is \"plain\" for {s.environment}, so there is no "
                         "context key; set tenant_context = \"signed\" first (docs/tenant-context.md)")
    result = bootstrap.run(s, endpoint=args.endpoint, master_dsn=args.master_dsn,
                           rotate_app_password=args.rotate_app_password,
                           rotate_context_key=args.rotate_context_key)
    o.write(render(result, args.format), args.output)
    return 0


def render(result: Result, fmt: str) -> str:
    """json: the result with the report's versions; junit: a testcase per step; table: the result's own."""
    import json

    from tenantdb import report
    if fmt == "json":
        return json.dumps(report.stamp(result.to_dict()), indent=2) + "\n"
    if fmt == "junit":
        rep = report.Report(result.environment, "bootstrap", [
            report.Check(st.name, st.name, report.Status.SKIP if st.skipped else report.Status.PASS,
                         actual=st.state, detail=st.detail) for st in result.steps])
        return report.to_junit([rep])
    return result.render("table")
