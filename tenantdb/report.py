"""The check report shared by `check`, `verify` and `plan`: statuses, JSON,
JUnit XML and a table for people.

JSON shape (other tools read it; keep it exactly)::

    {"environment": "prod", "stage": "check",
     "checks": [{"id": "AC1", "title": "...", "status": "PASS",
                 "expected": "...", "actual": "...", "detail": "..."}],
     "summary": {"pass": 0, "fail": 0, "error": 0, "skip": 0}}

A check that could not run is ERROR, never PASS: callers build checks with
:func:`run_check`, which turns any exception into ERROR with its reason.

This module imports nothing of the project's (LAYOUT.md: ground floor).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from enum import Enum
from xml.etree import ElementTree as ET


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    SKIP = "SKIP"


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
    return Check(id, title, Status.PASS, str(expected), str(actual), detail)


def failed(id: str, title: str, expected: object = "", actual: object = "", detail: str = "") -> Check:
    return Check(id, title, Status.FAIL, str(expected), str(actual), detail)


def errored(id: str, title: str, detail: str, expected: object = "") -> Check:
    return Check(id, title, Status.ERROR, str(expected), "", detail)


def skipped(id: str, title: str, detail: str, expected: object = "") -> Check:
    return Check(id, title, Status.SKIP, str(expected), "", detail)


def compare(id: str, title: str, expected: object, actual: object, detail: str = "") -> Check:
    """PASS when ``actual == expected``, else FAIL naming both."""
    if actual == expected:
        return passed(id, title, expected, actual, detail)
    return failed(id, title, expected, actual, detail or f"expected {expected!r}, found {actual!r}")


def run_check(id: str, title: str, fn: Callable[[], Check | Iterable[Check]]) -> list[Check]:
    """Run one check function; any exception becomes ERROR with a one-line reason (fail closed)."""
    try:
        out = fn()
    except Exception as exc:  # noqa: BLE001 - the verifier must never turn a crash into a PASS
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [errored(id, title, f"{type(exc).__name__}: {reason}")]
    return [out] if isinstance(out, Check) else list(out)


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
        counts = {s.value.lower(): 0 for s in Status}
        for c in self.checks:
            counts[c.status.value.lower()] += 1
        return counts

    @property
    def ok(self) -> bool:
        """True when nothing FAILed or ERRORed (and at least one check ran)."""
        s = self.summary
        return bool(self.checks) and s["fail"] == 0 and s["error"] == 0

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def to_dict(self) -> dict[str, object]:
        return {
            "environment": self.environment,
            "stage": self.stage,
            "checks": [c.to_dict() for c in self.checks],
            "summary": self.summary,
        }


def to_json(reports: list[Report]) -> str:
    """One report as an object; several (``--env`` omitted) as a list of objects."""
    data = reports[0].to_dict() if len(reports) == 1 else [r.to_dict() for r in reports]
    return json.dumps(data, indent=2)


def to_junit(reports: list[Report]) -> str:
    """JUnit XML: a testsuite per report, a testcase per check."""
    suites = ET.Element("testsuites")
    for r in reports:
        s = r.summary
        suite = ET.SubElement(suites, "testsuite", name=f"tenantdb.{r.stage}.{r.environment}",
                              tests=str(len(r.checks)), failures=str(s["fail"]),
                              errors=str(s["error"]), skipped=str(s["skip"]))
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


def to_table(reports: list[Report], color: bool | None = None) -> str:
    """A plain fixed-width table for people."""
    if color is None:
        color = sys.stdout.isatty()
    paint = {"PASS": "32", "FAIL": "31", "ERROR": "31;1", "SKIP": "33"}
    lines: list[str] = []
    for r in reports:
        lines.append(f"{r.stage} · {r.environment}")
        idw = max([len(c.id) for c in r.checks] + [2])
        tw = min(max([len(c.title) for c in r.checks] + [5]), 48)
        for c in r.checks:
            st = c.status.value
            shown = f"\x1b[{paint[st]}m{st:<5}\x1b[0m" if color else f"{st:<5}"
            note = c.detail if c.status is not Status.PASS else (c.actual or c.detail)
            lines.append(f"  {c.id:<{idw}}  {shown}  {c.title[:tw]:<{tw}}  {note}".rstrip())
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
