"""`tenantdb`: parses, calls, prints, sets exit codes.

Exit codes: 0 success, 1 a check failed or the world said no at run time,
2 bad input (usage, settings, slugs, DSNs). Errors are one line on stderr, no
traceback unless ``--debug``. Command modules are imported lazily so each
command starts fast and never pays for another's imports.

Command names, options and output formats are a contract other tools use:
change them only with an issue.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tenantdb import settings as settings_mod
from tenantdb.errors import ToolkitError, UsageError

FORMATS_REPORT = ("table", "json", "junit")
FORMATS_SIMPLE = ("table", "json")


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 2, one line) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{self.prog}: {message} (see --help)")


def _env_arg(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--env", required=required, metavar="ENV",
                   help=f"environment: {', '.join(settings_mod.ENVIRONMENTS)}")


def _conn_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", metavar="HOST:PORT",
                   help="reach the instance here instead of its address (SSM port forward, bastion)")
    p.add_argument("--master-dsn", metavar="URL",
                   help="connect as master with this DSN and skip AWS (steps needing AWS are SKIP)")


def _fmt_arg(p: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    p.add_argument("--format", choices=choices, default="table", help="output format (default: table)")


def _common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--settings and --debug are accepted after the subcommand as well as before it."""
    p.add_argument("--settings", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tenantdb", description="Provision, bootstrap and verify a multi-tenant PostgreSQL on AWS RDS.")
    p.add_argument("--settings", metavar="FILE",
                   help=f"TOML overlay of settings, one table per environment (or ${settings_mod.SETTINGS_ENV_VAR})")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    s = _common(sub.add_parser("synth", help="write every stack under cdktf.out/"))
    s.add_argument("--with-access", action="store_true",
                   help="also write the declarative access stack for every environment")

    c = _common(sub.add_parser("check", help="synth-and-plan checks: terraform validate + assertions + policy scan"))
    _env_arg(c, required=False)
    _fmt_arg(c, FORMATS_REPORT)
    c.add_argument("--output", metavar="FILE", help="write the report here as well as stdout")

    b = _common(sub.add_parser("bootstrap", help="create roles, grants and the isolation foundation; fill the secret"))
    _env_arg(b)
    _conn_args(b)
    b.add_argument("--rotate-app-password", action="store_true", help="set a new app_user password")
    _fmt_arg(b, FORMATS_SIMPLE)

    v = _common(sub.add_parser("verify", help="prove every acceptance criterion against the live system"))
    _env_arg(v)
    _fmt_arg(v, FORMATS_REPORT)
    v.add_argument("--output", metavar="FILE", help="write the report here as well as stdout")
    _conn_args(v)

    pl = _common(sub.add_parser("plan", help="terraform plan with a guard against destroying stateful resources"))
    _env_arg(pl)
    pl.add_argument("--out", metavar="FILE", help="where to save the plan")
    pl.add_argument("--allow-replace", action="append", default=[], metavar="ADDRESS",
                    help="let the plan replace or destroy this resource address (repeatable)")
    _fmt_arg(pl, FORMATS_REPORT)

    loc = sub.add_parser("local", help="the whole pipeline on this machine: moto, Terraform, PostgreSQL")
    lsub = loc.add_subparsers(dest="local_command", required=True, parser_class=_Parser)
    up = _common(lsub.add_parser("up", help="start, deploy, bootstrap and verify the local environment"))
    _fmt_arg(up, FORMATS_SIMPLE)
    _common(lsub.add_parser("down", help="stop what `local up` started and remove its state"))
    st = _common(lsub.add_parser("status", help="what runs, where"))
    _fmt_arg(st, FORMATS_SIMPLE)

    t = sub.add_parser("tenant", help="tenant schemas: create, list, drop")
    tsub = t.add_subparsers(dest="tenant_command", required=True, parser_class=_Parser)
    tc = _common(tsub.add_parser("create", help="create schema tenant_<slug> and register it"))
    tc.add_argument("slug")
    _env_arg(tc)
    _conn_args(tc)
    tl = _common(tsub.add_parser("list", help="list registered tenants"))
    _env_arg(tl)
    _conn_args(tl)
    _fmt_arg(tl, FORMATS_SIMPLE)
    td = _common(tsub.add_parser("drop", help="drop a tenant's schema and registry row"))
    td.add_argument("slug")
    _env_arg(td)
    _conn_args(td)
    td.add_argument("--confirm", metavar="SLUG", help="repeat the slug to confirm")
    return p


def _write(text: str, output: str | None = None) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    if output:
        Path(output).write_text(text)


def _settings(args: argparse.Namespace, env: str) -> settings_mod.Settings:
    return settings_mod.load(env, args.settings)


# ----- command handlers: each returns the exit code ------------------------

def _cmd_synth(args: argparse.Namespace) -> int:
    from tenantdb import synth
    for path in synth.synth(with_access=args.with_access, overlay=args.settings):
        print(path)
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from tenantdb import check, report
    envs = [args.env] if args.env else list(settings_mod.ENVIRONMENTS)
    targets = [_settings(args, e) for e in envs]
    reports = check.run(targets, overlay=args.settings)
    _write(report.render(reports, args.format), args.output)
    return 0 if all(r.ok for r in reports) else 1


def _cmd_bootstrap(args: argparse.Namespace) -> int:
    from tenantdb import bootstrap
    s = _settings(args, args.env)
    result = bootstrap.run(s, endpoint=args.endpoint, master_dsn=args.master_dsn,
                           rotate_app_password=args.rotate_app_password)
    _write(result.render(args.format))
    return 0


def _cmd_verify(args: argparse.Namespace) -> int:
    from tenantdb import report, verify
    s = _settings(args, args.env)
    rep = verify.run(s, endpoint=args.endpoint, master_dsn=args.master_dsn)
    _write(report.render([rep], args.format), args.output)
    return rep.exit_code


def _cmd_plan(args: argparse.Namespace) -> int:
    from tenantdb import plan, report
    s = _settings(args, args.env)
    rep = plan.run(s, out=args.out, allow_replace=args.allow_replace, overlay=args.settings)
    _write(report.render([rep], args.format))
    return rep.exit_code


def _cmd_local(args: argparse.Namespace) -> int:
    from tenantdb.local import pipeline
    s = _settings(args, "local")
    if args.local_command == "up":
        return pipeline.up(s, fmt=args.format, overlay=args.settings)
    if args.local_command == "down":
        return pipeline.down(s)
    return pipeline.status(s, fmt=args.format)


def _cmd_tenant(args: argparse.Namespace) -> int:
    from tenantdb import tenants
    s = _settings(args, args.env)
    conn = {"endpoint": args.endpoint, "master_dsn": args.master_dsn}
    if args.tenant_command == "create":
        print(tenants.create(s, args.slug, **conn))
        return 0
    if args.tenant_command == "list":
        _write(tenants.render(tenants.list_tenants(s, **conn), args.format))
        return 0
    return tenants.drop(s, args.slug, confirm=args.confirm, **conn)


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "synth": _cmd_synth, "check": _cmd_check, "bootstrap": _cmd_bootstrap, "verify": _cmd_verify,
    "plan": _cmd_plan, "local": _cmd_local, "tenant": _cmd_tenant,
}


def main(argv: Sequence[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        args = build_parser().parse_args(argv)
        return HANDLERS[args.command](args)
    except (UsageError, settings_mod.SettingsError) as exc:
        if debug:
            raise
        print(f"tenantdb: error: {exc}", file=sys.stderr)
        return 2
    except ToolkitError as exc:
        if debug:
            raise
        print(f"tenantdb: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("tenantdb: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, never a traceback, unless --debug
        if debug:
            raise
        first = (str(exc).strip().splitlines() or [""])[0]
        print(f"tenantdb: error: unexpected {type(exc).__name__}: {first} (rerun with --debug)", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
