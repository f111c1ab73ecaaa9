"""`tenantdb bootstrap`: roles, grants, the isolation foundation and the secrets."""

from __future__ import annotations

import argparse

from tenantdb.commands import _options as o

HELP = "create roles, grants and the isolation foundation; fill the secret"


def add_arguments(p: argparse.ArgumentParser) -> None:
    o.common(p)
    o.env_arg(p)
    o.conn_args(p)
    p.add_argument("--rotate-app-password", action="store_true", help="set a new app_user password")
    o.fmt_arg(p, o.FORMATS_SIMPLE)


def run(args: argparse.Namespace) -> int:
    from tenantdb.database import bootstrap
    s = o.load_settings(args, args.env)
    result = bootstrap.run(s, endpoint=args.endpoint, master_dsn=args.master_dsn,
                           rotate_app_password=args.rotate_app_password)
    o.write(result.render(args.format))
    return 0
