"""``--list`` of `tenantdb check` and `tenantdb verify`: the registry rows of the stage
(tenantdb/checks.py), without settings, AWS or a database."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import Any

from tenantdb import checks, report
from tenantdb.errors import UsageError

COLUMNS = ("id", "title", "requirement")


class _ListAction(argparse.Action):
    """``--list``: nothing else is needed, so ``--env`` stops being required."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: str | Sequence[Any] | None, option_string: str | None = None) -> None:
        setattr(namespace, self.dest, True)
        if hasattr(namespace, "env_required"):
            namespace.env_required = False


def list_arg(p: argparse.ArgumentParser, stage: str) -> None:
    p.add_argument("--list", action=_ListAction, nargs=0, default=False,
                   help=f"print the {stage} checks (id, title, requirement) and exit; needs no settings")


def render(stage: str, fmt: str) -> str:
    """The stage's controls in report order, as a table or JSON."""
    if fmt not in ("table", "json"):
        raise UsageError(f"--list --format {fmt}: the list is a table or json; use --format table or json")
    rows = [{k: getattr(c, k) for k in COLUMNS} for c in checks.stage(stage)]
    if fmt == "json":
        return json.dumps({"stage": stage, "checks": rows}, indent=2)
    lines = report.columns(rows, COLUMNS, header=[k.upper() for k in COLUMNS])
    return "\n".join(lines) + f"\n{len(rows)} {stage} checks\n"


# ----- the runbook's table of checks (docs/runbook.md), generated from the registry -----

BEGIN, END = "<!-- checks table: generated from tenantdb/checks.py -->", "<!-- end of checks table -->"


def markdown() -> str:
    """The registry as the runbook's Markdown table, between its markers."""
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = [BEGIN, "| id | title | requirement | check | verify |", "|---|---|---|---|---|"]
    for c in checks.REGISTRY:
        marks = ["yes" if st in c.stages else "" for st in checks.STAGES]
        lines.append(f"| {c.id} | {cell(c.title)} | {cell(c.requirement)} | {' | '.join(marks)} |")
    lines += ["", "Merged ids (an older report used the first; the control reports the second now): "
              + ", ".join(f"`{old}` -> `{new}`" for old, new in checks.MERGED_ALIASES.items()) + ".", END]
    return "\n".join(lines)


def update_doc(text: str) -> str:
    """``text`` with the part between the markers replaced by :func:`markdown`."""
    head, sep, rest = text.partition(BEGIN)
    _, sep2, tail = rest.partition(END)
    if not (sep and sep2):
        raise ValueError(f"the markers {BEGIN!r} and {END!r} are not both in the document")
    return head + markdown() + tail


if __name__ == "__main__":  # regenerate: python -m tenantdb.commands._list docs/runbook.md
    import sys
    from pathlib import Path

    doc = Path(sys.argv[1])
    doc.write_text(update_doc(doc.read_text()))
