"""Render tenantdb reports as Markdown for a GitHub job summary ($GITHUB_STEP_SUMMARY).

    python .github/scripts/summary.py TITLE FILE...

Each FILE is a tenantdb report: JSON (``--format json``, every check with its
expected/actual/detail; one object for one environment or several, each check
naming its environment, tenantdb/report.py; the older list of objects is read
too) or JUnit XML (``--format junit``, failing checks with their message).
Standard library only, so it runs wherever Python 3 does. A file that is
missing or unreadable is shown as such, never as a pass.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from xml.etree import ElementTree as ET

_ICON = {"PASS": "✅", "FAIL": "❌", "ERROR": "⛔", "SKIP": "⏭️"}


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _table(rows: list[tuple[str, str, str, str]]) -> list[str]:
    out = ["| status | check | result | detail |", "|---|---|---|---|"]
    out += [f"| {_ICON.get(st, '')} {st} | {_cell(name)} | {_cell(res)} | {_cell(det)} |"
            for st, name, res, det in rows]
    return out


def _per_environment(data: object) -> list[dict]:
    """The report's parts, one per environment, each with stage, environment, summary and checks."""
    if isinstance(data, list):  # schema 1 with several environments: a list of reports
        return data
    if "environments" not in data:  # schema 1, one environment
        return [data]
    return [{"stage": data["stage"], "environment": e["environment"], "summary": e["summary"],
             "checks": [c for c in data["checks"] if c["environment"] == e["environment"]]}
            for e in data["environments"]]


def from_json(text: str) -> list[str]:
    data = json.loads(text)
    out: list[str] = []
    for report in _per_environment(data):
        s = report["summary"]
        out.append(f"**{report['stage']} · {report['environment']}**: {s['pass']} passed, {s['fail']} failed, "
                   f"{s['error']} errors, {s['skip']} skipped")
        out.append("")
        out += _table([(c["status"], f"{c['id']} {c['title']}", c.get("actual", ""), c.get("detail", ""))
                       for c in report["checks"]])
        out.append("")
    if isinstance(data, dict) and "toolkit_version" in data:
        out += [f"<sub>tenantdb {data['toolkit_version']}, report schema {data['schema_version']}</sub>", ""]
    return out


def from_junit(text: str) -> list[str]:
    root = ET.fromstring(text)
    out: list[str] = []
    for suite in root.iter("testsuite"):
        cases = list(suite.iter("testcase"))
        out.append(f"**{suite.get('name')}**: {suite.get('tests', len(cases))} checks, "
                   f"{suite.get('failures', 0)} failed, {suite.get('errors', 0)} errors, "
                   f"{suite.get('skipped', 0)} skipped")
        out.append("")
        rows = []
        for case in cases:
            for tag, status in (("failure", "FAIL"), ("error", "ERROR"), ("skipped", "SKIP")):
                node = case.find(tag)
                if node is not None:
                    rows.append((status, case.get("name", ""), "", node.get("message", "")))
                    break
        out += _table(rows) if rows else ["All checks passed."]
        out.append("")
    return out


def render(title: str, paths: list[str]) -> str:
    out = [f"### {title}", ""]
    for name in paths:
        path = Path(name)
        try:
            text = path.read_text()
            out += from_junit(text) if text.lstrip().startswith("<") else from_json(text)
        except (OSError, ValueError, KeyError, TypeError, ET.ParseError) as exc:
            out += [f"⛔ **{path.name}**: no readable report ({type(exc).__name__}: {_cell(exc)})", ""]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit("usage: summary.py TITLE FILE...")
    sys.stdout.write(render(sys.argv[1], sys.argv[2:]))
