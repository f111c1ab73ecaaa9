"""Options shared by several commands, so each is spelled once, and what they resolve to.

Conventions (the AWS CLI's, Terraform's and libpq's, where they have one):

- ``--format`` is the output format; ``--output FILE`` is always a file (the
  report goes to stdout as well). A bare format name given to ``--output``
  is refused with a hint, since the AWS CLI and checkov spell the format so.
- ``--env`` defaults to ``$TENANTDB_ENV``; an explicit ``--env`` wins.
- The master DSN comes from ``--master-dsn`` or ``$TENANTDB_MASTER_DSN``; a
  DSN without a password takes libpq's ``$PGPASSWORD``. A password in argv
  (which ``ps`` shows every user) gets a warning. No DSN is ever echoed.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from io import StringIO
from pathlib import Path
from typing import Any

from tenantdb import settings as settings_mod
from tenantdb.errors import ToolkitError, UsageError

FORMATS_REPORT = ("table", "json", "junit")
FORMATS_SIMPLE = ("table", "json")
FORMAT_NAMES = frozenset({"table", "json", "junit", "text", "yaml", "yml", "xml"})
"""Values of ``--output`` that are a format, not a file (ours, and the AWS CLI's)."""

ENV_VAR = "TENANTDB_ENV"
ALL_ENVIRONMENTS = "all"
"""``check --env all``: every environment, even when ``$TENANTDB_ENV`` is set."""
MASTER_DSN_VAR = "TENANTDB_MASTER_DSN"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def env_arg(p: argparse.ArgumentParser, required: bool = True) -> None:
    """``--env``; its default (``$TENANTDB_ENV``) is applied by :func:`resolve` after parsing."""
    rest = "" if required else f", or {ALL_ENVIRONMENTS} (the default without it)"
    p.add_argument("--env", metavar="ENV",
                   help=f"environment: {', '.join(settings_mod.ENVIRONMENTS)}{rest} (default: ${ENV_VAR})")
    p.set_defaults(env_required=required)


def conn_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--endpoint", metavar="HOST:PORT",
                   help="reach the instance here instead of its address (SSM port forward, bastion)")
    p.add_argument("--master-dsn", metavar="URL",
                   help=f"connect as master with this DSN and skip AWS (steps needing AWS are SKIP); "
                        f"prefer ${MASTER_DSN_VAR} (and $PGPASSWORD): argv is visible to every user")


def fmt_arg(p: argparse.ArgumentParser, choices: Sequence[str]) -> None:
    p.add_argument("--format", choices=choices, default="table", help="output format (default: table)")


def output_arg(p: argparse.ArgumentParser, formats: Sequence[str] = FORMATS_REPORT) -> None:
    p.add_argument("--output", metavar="FILE", type=_output_file(formats),
                   help="also write the output to this file (the format is --format)")


def _output_file(formats: Sequence[str]) -> Any:
    def check(value: str) -> str:
        name = value.strip().lower()
        if name in FORMAT_NAMES:
            hint = (f"did you mean --format {name}?" if name in formats
                    else f"--format is one of {', '.join(formats)}")
            raise argparse.ArgumentTypeError(f"{value!r} is a format, not a file: {hint} "
                                             f"(for a file of that name, write ./{value})")
        return value
    return check


def _check_output(value: str) -> None:
    """Refuse, before any work, an --output the report could not be written to."""
    path = Path(value)
    if path.is_dir():
        raise UsageError(f"--output {value}: is a directory; name a file in it")
    if not path.parent.is_dir():
        raise UsageError(f"--output {value}: directory {path.parent} does not exist; create it first")


def common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """--settings and --debug are accepted after the subcommand as well as before it."""
    p.add_argument("--settings", metavar="FILE", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return p


# ----- after parsing -----------------------------------------------------------------

def resolve(args: argparse.Namespace) -> None:
    """Fill what the environment supplies (``--env`` from $TENANTDB_ENV, the master DSN) and check
    ``--output``'s directory: UsageError (exit 2) on a bad value, before any work."""
    if hasattr(args, "env_required"):
        args.env = _env(args)
    if hasattr(args, "master_dsn"):
        args.master_dsn = master_dsn(args.master_dsn, os.environ)
    if getattr(args, "output", None):
        _check_output(args.output)


def _env(args: argparse.Namespace) -> str | None:
    envs = settings_mod.ENVIRONMENTS
    if args.env is not None:
        if args.env == ALL_ENVIRONMENTS and not args.env_required:
            return None
        return args.env  # an unknown name is refused by settings.load, naming it
    value = os.environ.get(ENV_VAR, "").strip()
    if value in envs or (value == ALL_ENVIRONMENTS and not args.env_required):
        return None if value == ALL_ENVIRONMENTS else value
    if value:
        raise UsageError(f"{ENV_VAR}={value!r}: unknown environment; use one of {', '.join(envs)}")
    if args.env_required:
        raise UsageError(f"tenantdb {args.command}: --env is required (or set {ENV_VAR}); "
                         f"one of {', '.join(envs)}")
    return None


def master_dsn(given: str | None, environ: Any) -> str | None:
    """The master DSN to use, validated (never echoed): ``--master-dsn``, else $TENANTDB_MASTER_DSN.

    A DSN without a password takes $PGPASSWORD, as libpq would; a password
    given in argv is accepted with a warning (``ps`` shows it to every user).
    """
    source = "--master-dsn"
    if given is None:
        given, source = environ.get(MASTER_DSN_VAR) or None, MASTER_DSN_VAR
    if given is None:
        return None
    import psycopg

    from tenantdb.database.plumbing.master import parse_master_dsn

    try:
        target = parse_master_dsn(given)
    except UsageError as exc:
        raise UsageError(str(exc).replace("--master-dsn", source, 1)) from None
    if target.password and any(given in arg for arg in sys.argv[1:]):  # what ps shows, not an in-process call
        warn(f"--master-dsn holds a password, which the process list (ps) shows to every user of this "
             f"machine; set {MASTER_DSN_VAR} (or PGPASSWORD for the password alone) instead")
    if not target.password and environ.get("PGPASSWORD"):
        given = psycopg.conninfo.make_conninfo(given, password=environ["PGPASSWORD"])
    return given


# ----- output -------------------------------------------------------------------------

def write(text: str, output: str | None = None) -> None:
    """The output on stdout, and in ``output`` (without colour) when given."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    sys.stdout.flush()
    if output:
        save(output, text)


def save(output: str, text: str) -> None:
    try:
        Path(output).write_text(_ANSI.sub("", text if text.endswith("\n") else text + "\n"))
    except OSError as exc:
        raise ToolkitError(f"--output {output}: cannot write the file ({exc.strerror or exc})") from None


@contextmanager
def tee(output: str | None) -> Iterator[None]:
    """What the block prints to stdout also goes to ``output`` (when given, and the block did not raise)."""
    if not output:
        yield
        return
    real, copy = sys.stdout, StringIO()
    sys.stdout = _Tee(real, copy)  # type: ignore[assignment]  # _Tee is file-like, not a TextIO
    try:
        yield
    finally:
        sys.stdout = real
    save(output, copy.getvalue())


class _Tee:
    def __init__(self, real: Any, copy: StringIO):
        self._real, self._copy = real, copy

    def write(self, text: str) -> int:
        self._copy.write(text)
        return self._real.write(text)

    def __getattr__(self, name: str) -> Any:  # isatty, flush, fileno, encoding: the real stream's
        return getattr(self._real, name)


def warn(message: str) -> None:
    """One warning line on stderr (callers never pass a value that may hold a secret)."""
    sys.stderr.write(f"tenantdb: warning: {message}\n")
    sys.stderr.flush()


def progress(what: str) -> AbstractContextManager[None]:
    """``what`` with its running time on stderr while the block runs, only when stderr is a terminal."""
    try:
        live = sys.stderr.isatty()
    except (AttributeError, ValueError):
        live = False
    if not live:
        return nullcontext()
    from tenantdb.local.progress import Progress

    return Progress(sys.stderr, live=True).stage(what)


def load_settings(args: argparse.Namespace, env: str) -> settings_mod.Settings:
    return settings_mod.load(env, args.settings)
