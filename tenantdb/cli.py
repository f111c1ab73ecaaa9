"""`tenantdb`: the entry point. It maps command names to modules and dispatches.

Exit codes: 0 success, 1 a check failed or the world said no at run time,
2 bad input (usage, settings, slugs, DSNs). Errors are one line on stderr, no
traceback unless ``--debug``. ``--version`` prints the toolkit's version and
the report schema's. Options shared by commands (``--env`` with its
``$TENANTDB_ENV`` default, ``--output FILE``, the master DSN) are resolved
in :mod:`tenantdb.commands._options`.

Command names, options and output formats are a contract other tools use.
Each command is a module of :mod:`tenantdb.commands` with the same interface
(``HELP``, ``add_arguments``, ``run``); add a command by adding a module and
one row to :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from tenantdb import report
from tenantdb import settings as settings_mod
from tenantdb.commands import _options
from tenantdb.errors import TenantdbError, UsageError, first_line

COMMANDS: dict[str, str] = {
    "synth": "tenantdb.commands.synth",
    "check": "tenantdb.commands.check",
    "bootstrap": "tenantdb.commands.bootstrap",
    "verify": "tenantdb.commands.verify",
    "plan": "tenantdb.commands.plan",
    "local": "tenantdb.commands.local",
    "tenant": "tenantdb.commands.tenant",
    "migrate": "tenantdb.commands.migrate",
}
"""Command name -> the module that implements it."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 2, one line) instead of printing usage and exiting."""

    def error(self, message: str) -> None:  # type: ignore[override]  # argparse declares NoReturn
        raise UsageError(f"{self.prog}: {message} (see --help)")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="tenantdb", description="Provision, bootstrap and verify a multi-tenant PostgreSQL on AWS RDS.")
    p.add_argument("--settings", metavar="FILE",
                   help=f"TOML overlay of settings, one table per environment (or ${settings_mod.SETTINGS_ENV_VAR})")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("--version", action="version",
                   version=f"tenantdb {report.toolkit_version()} (report schema {report.SCHEMA_VERSION})")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, module in COMMANDS.items():
        mod = importlib.import_module(module)
        mod.add_arguments(sub.add_parser(name, help=mod.HELP))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        args = build_parser().parse_args(argv)
        _options.resolve(args)
        return importlib.import_module(COMMANDS[args.command]).run(args)
    except TenantdbError as exc:  # every error of ours: one line, its exit code (usage 2, run time 1)
        if debug:
            raise
        print(f"tenantdb: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("tenantdb: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if debug:
            raise
        print(f"tenantdb: error: unexpected {type(exc).__name__}: {first_line(exc)} (rerun with --debug)",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
