"""Options shared by several commands, so each is spelled once."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from tenantdb import settings as settings_mod

FORMATS_REPORT = ("table", "json", "junit")
FORMATS_SIMPLE = ("table", "json")


def env_arg(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--env", required=required, metavar="ENV",
                   help=f"environment: {', '.join(settings_mod.ENVIRONMENTS)}")


def conn_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", metavar="HOST:PORT",
                   help="reach the instance here instead of its address (SSM port forward, bastion)")
    p.add_argument("--master-dsn", metavar="URL",
                   help="connect as master with this DSN and skip AWS (steps needing AWS are SKIP)")


def fmt_arg(p: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    p.add_argument("--format", choices=choices, default="table", help="output format (default: table)")


def output_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--output", metavar="FILE", help="write the report here as well as stdout")


def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--settings and --debug are accepted after the subcommand as well as before it."""
    p.add_argument("--settings", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


def write(text: str, output: str | None = None) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    if output:
        Path(output).write_text(text)


def load_settings(args: argparse.Namespace, env: str) -> settings_mod.Settings:
    return settings_mod.load(env, args.settings)
