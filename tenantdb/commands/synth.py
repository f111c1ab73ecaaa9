"""`tenantdb synth`: write every stack under cdktf.out/."""

from __future__ import annotations

import argparse

from tenantdb.commands import _options as o

HELP = "write every stack under cdktf.out/"


def add_arguments(p: argparse.ArgumentParser) -> None:
    o.common(p)
    p.add_argument("--with-access", action="store_true",
                   help="also write the declarative access stack for every environment")


def run(args: argparse.Namespace) -> int:
    from tenantdb.infra import synth
    with o.progress("synth (cdktf): every stack"):
        paths = synth.synth(with_access=args.with_access, overlay=args.settings)
    for path in paths:
        print(path)
    return 0
