"""The check report shared by `check`, `verify` and `plan`: statuses, JSON,
JUnit XML and a table for people.

JSON: one shape whatever the arguments (one environment or several); other
tools read it, so keep it exactly and bump :data:`SCHEMA_VERSION` when it
changes::

    {"schema_version": 2, "toolkit_version": "0.1.0",
     "stage": "check",
     "environment": "prod",
     "environments": [{"environment": "prod",
                       "summary": {"pass": 0, "fail": 0, "error": 0, "skip": 0}}],
     "checks": [{"environment": "prod", "id": "AC1", "title": "...", "status": "PASS",
                 "expected": "...", "actual": "...", "detail": "..."}],
     "summary": {"pass": 0, "fail": 0, "error": 0, "skip": 0}}

- ``environment``: the environment's name when the report covers one, else
  ``"all"``; ``environments`` lists each covered environment, in order, with
  its own summary.
- ``checks``: every check of every environment, each naming its environment;
  ``summary``: the counts over all of them. A reader of one environment's
  report uses ``checks``, ``summary``, ``environment`` and ``stage`` as before.
- ``expected``/``actual``/``detail`` are plain text: booleans ``true``/``false``,
  a missing value ``none``, lists comma-separated (never Python reprs).
- Schema 1 (before the toolkit and schema versions) was this object without
  the versions, ``environments`` and each check's ``environment`` for one
  environment, and a list of such objects for several.

JUnit XML: a testsuite per environment, a testcase per check; each suite's
``properties`` carry ``toolkit_version`` and ``schema_version``.

A check that could not run is ERROR, never PASS: every runner calls a check function through
:func:`run_check` (the registry's runner, tenantdb/checks.py, does), which turns any exception,
or a return that is no check, into ERROR with its reason.

Colour in the table follows NO_COLOR and FORCE_COLOR (:func:`use_color`).
This module imports nothing of the project's (the ground floor).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import Enum
from functools import cache
from typing import TextIO
from xml.etree import ElementTree as ET

from tenantdb.errors import first_line

SCHEMA_VERSION = 2
"""Version of the JSON shape above (and of the JUnit properties); bumped when either changes."""

ALL = "all"
"""``environment`` of a report covering several environments."""


@cache
def toolkit_version() -> str:
    """The installed toolkit's version, from its package metadata."""
    from importlib import metadata

    try:
        return metadata.version("tenantdb")
    except metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


class Status(str, Enum):  # noqa: UP042 - StrEnum would change str(status) from "Status.PASS" to "PASS"
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    SKIP = "SKIP"


def plain(value: object) -> str:
    """A value as people write it: ``true``/``false``, ``none``, ``a, b`` (never a Python repr)."""
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, Mapping):
        return ", ".join(f"{plain(k)}={plain(v)}" for k, v in value.items()) or "none"
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return ", ".join(plain(v) for v in items) or "none"
    return str(value)


def columns(rows: Sequence[Mapping[str, object]], cols: Sequence[str], *,
            header: Sequence[str] | None = None) -> list[str]:
    """Fixed-width columns for people, the one table renderer of every command's listing: a header
    line (``header``, else the column names), then a line per row; cells as :func:`plain` writes
    them, two spaces apart, trailing blanks trimmed."""
    names = list(header or cols)
    cells = [[plain(r.get(c)) for c in cols] for r in rows]
    widths = [max([len(n)] + [len(row[i]) for row in cells]) for i, n in enumerate(names)]
    return ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip()
            for line in [names, *cells]]


@dataclass(frozen=True)
class Check:
    """One check's outcome. ``expected``/``actual`` are short strings for people and tools."""

    id: str
    title: str
    status: Status
    expected: str = ""
    actual: str = ""
    detail: str = ""

    def to_dict(self) -> dict[str, str]:
        d = asdict(self)
        d["status"] = self.status.value
        return d


def passed(id: str, title: str, expected: object = "", actual: object = "", detail: str = "") -> Check:
    return Check(id, title, Status.PASS, plain(expected), plain(actual), detail)


def failed(id: str, title: str, expected: object = "", actual: object = "", detail: str = "") -> Check:
    return Check(id, title, Status.FAIL, plain(expected), plain(actual), detail)


def errored(id: str, title: str, detail: str, expected: object = "") -> Check:
    return Check(id, title, Status.ERROR, plain(expected), "", detail)


def skipped(id: str, title: str, detail: str, expected: object = "") -> Check:
    return Check(id, title, Status.SKIP, plain(expected), "", detail)


def compare(id: str, title: str, expected: object, actual: object, detail: str = "") -> Check:
    """PASS when ``actual == expected``, else FAIL naming both."""
    if actual == expected:
        return passed(id, title, expected, actual, detail)
    return failed(id, title, expected, actual,
                  detail or f"expected {plain(expected) or '(empty)'}, found {plain(actual) or '(empty)'}")


def run_check(id: str, title: str, fn: Callable[[], Check | Iterable[Check]], what: str = "") -> list[Check]:
    """Run one check function, failing closed: the one path every runner takes (the registry's,
    tenantdb/checks.py :func:`run`, and whoever runs a check on its own). Any exception, or a
    return that is not a Check or checks, becomes ERROR under ``id`` with a one-line reason;
    ``what`` names the function in that reason."""
    try:
        got = fn()
        out = [got] if isinstance(got, Check) else list(got)  # one check, or any iterable of them
        if not all(isinstance(c, Check) for c in out):
            raise TypeError(f"{what or 'the check function'} returned {type(got).__name__}, not report checks")
    except Exception as exc:  # noqa: BLE001 - the verifier must never turn a crash into a PASS
        return [errored(id, title, f"{type(exc).__name__}: {first_line(exc)}")]
    return out


def _count(checks: Iterable[Check]) -> dict[str, int]:
    counts = {s.value.lower(): 0 for s in Status}
    for c in checks:
        counts[c.status.value.lower()] += 1
    return counts


@dataclass
class Report:
    environment: str
    stage: str
    checks: list[Check] = field(default_factory=list)

    def add(self, *checks: Check | Iterable[Check]) -> None:
        for c in checks:
            if isinstance(c, Check):
                self.checks.append(c)
            else:
                self.checks.extend(c)

    @property
    def summary(self) -> dict[str, int]:
        return _count(self.checks)

    @property
    def ok(self) -> bool:
        """True when nothing FAILed or ERRORed (and at least one check ran)."""
        s = self.summary
        return bool(self.checks) and s["fail"] == 0 and s["error"] == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, object]:
        """This report alone as the JSON document (see the module docstring)."""
        return document([self])


def stamp(data: Mapping[str, object]) -> dict[str, object]:
    """``data`` with the schema and toolkit versions first (for every JSON document the toolkit writes)."""
    return {"schema_version": SCHEMA_VERSION, "toolkit_version": toolkit_version(), **data}


def document(reports: list[Report]) -> dict[str, object]:
    """The one JSON shape for one report or several (see the module docstring)."""
    if not reports:
        raise ValueError("a report document needs at least one report")
    stages = list(dict.fromkeys(r.stage for r in reports))
    return stamp({
        "stage": stages[0] if len(stages) == 1 else "+".join(stages),
        "environment": reports[0].environment if len(reports) == 1 else ALL,
        "environments": [{"environment": r.environment, "summary": r.summary} for r in reports],
        "checks": [{"environment": r.environment, **c.to_dict()} for r in reports for c in r.checks],
        "summary": _count(c for r in reports for c in r.checks),
    })


def to_json(reports: list[Report]) -> str:
    return json.dumps(document(reports), indent=2)


def to_junit(reports: list[Report]) -> str:
    """JUnit XML: a testsuite per report, a testcase per check."""
    suites = ET.Element("testsuites", name="tenantdb")
    for r in reports:
        s = r.summary
        suite = ET.SubElement(suites, "testsuite", name=f"tenantdb.{r.stage}.{r.environment}",
                              tests=str(len(r.checks)), failures=str(s["fail"]),
                              errors=str(s["error"]), skipped=str(s["skip"]))
        props = ET.SubElement(suite, "properties")
        for name, value in (("toolkit_version", toolkit_version()), ("schema_version", str(SCHEMA_VERSION)),
                            ("environment", r.environment), ("stage", r.stage)):
            ET.SubElement(props, "property", name=name, value=value)
        for c in r.checks:
            case = ET.SubElement(suite, "testcase", classname=f"{r.stage}.{r.environment}",
                                 name=f"{c.id} {c.title}")
            text = f"expected: {c.expected}\nactual: {c.actual}\n{c.detail}".strip()
            if c.status is Status.FAIL:
                ET.SubElement(case, "failure", message=c.detail or "failed").text = text
            elif c.status is Status.ERROR:
                ET.SubElement(case, "error", message=c.detail or "error").text = text
            elif c.status is Status.SKIP:
                ET.SubElement(case, "skipped", message=c.detail or "skipped")
    ET.indent(suites)
    return ET.tostring(suites, encoding="unicode", xml_declaration=True) + "\n"


# ----- the table for people --------------------------------------------------------

_PAINT = {"PASS": "32", "FAIL": "31", "ERROR": "31;1", "SKIP": "33"}
TITLE_WIDTH = 44
"""Widest title column; longer titles wrap at word boundaries."""
NOTE_MIN_WIDTH = 28
"""The result column gets at least this, and at least 3/5 of what the id and status columns leave."""
TABLE_WIDTH = 120
"""Table width when stdout is not a terminal (pipes, CI logs); ``COLUMNS`` overrides it."""


def use_color(stream: TextIO | None = None) -> bool:
    """Whether to paint text for ``stream`` (stdout by default).

    ``NO_COLOR`` set and not empty: never (https://no-color.org/; it wins over
    FORCE_COLOR). Else ``FORCE_COLOR`` set to anything but empty, ``0`` or
    ``false``: always, even into a pipe or a CI log. Else only on a terminal
    whose ``TERM`` is not ``dumb``.
    """
    if os.environ.get("NO_COLOR", ""):
        return False
    forced = os.environ.get("FORCE_COLOR", "").strip().lower()
    if forced and forced not in ("0", "false"):
        return True
    stream = stream or sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):  # closed or not a real stream
        tty = False
    return tty and os.environ.get("TERM", "") != "dumb"


def table_width() -> int:
    """The terminal's columns (or ``COLUMNS``), else :data:`TABLE_WIDTH`; never under 80."""
    return max(80, shutil.get_terminal_size((TABLE_WIDTH, 24)).columns)


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width``, broken between words (a word longer than a line is split)."""
    return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False) or [""]


def _note(c: Check) -> str:
    if c.status is Status.PASS:
        return c.actual or c.detail
    if c.detail:
        return c.detail
    return f"expected {c.expected or '(empty)'}, found {c.actual or '(empty)'}" if c.expected or c.actual else ""


def to_table(reports: list[Report], color: bool | None = None, width: int | None = None) -> str:
    """A fixed-width table for people: id, status, title, result; long text wrapped by word."""
    color = use_color() if color is None else color
    width = width or table_width()
    lines: list[str] = []
    for r in reports:
        lines.append(f"{r.stage} · {r.environment}")
        idw = max([len(c.id) for c in r.checks] + [2])
        room = width - (2 + idw + 2 + 5 + 2 + 2)  # for the title and the result
        longest_word = max([len(w) for c in r.checks for w in c.title.split()] + [16])
        tw = min(max([len(c.title) for c in r.checks] + [5]), TITLE_WIDTH, max(longest_word, room * 2 // 5))
        nw = max(NOTE_MIN_WIDTH, room - tw)
        for c in r.checks:
            st = c.status.value
            shown = f"\x1b[{_PAINT[st]}m{st:<5}\x1b[0m" if color else f"{st:<5}"
            titles, notes = _wrap(c.title, tw), _wrap(_note(c), nw)
            for i in range(max(len(titles), len(notes))):
                first = i == 0
                row = (f"  {c.id if first else '':<{idw}}  {shown if first else '':<5}  "
                       f"{titles[i] if i < len(titles) else '':<{tw}}  {notes[i] if i < len(notes) else ''}")
                lines.append(row.rstrip())
        s = r.summary
        lines.append(f"  {s['pass']} passed, {s['fail']} failed, {s['error']} errors, {s['skip']} skipped")
        lines.append("")
    return "\n".join(lines)


def render(reports: list[Report], fmt: str) -> str:
    if fmt == "json":
        return to_json(reports) + "\n"
    if fmt == "junit":
        return to_junit(reports)
    return to_table(reports)
