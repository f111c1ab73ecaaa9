"""The policy gate of `tenantdb check`: checkov over a synthesized database stack, offline,
and the Security Hub controls checkov does not cover, with the exceptions written in
policy/checkov.toml.

Report shape: one check per checkov check id (``CKV_AWS_157``; its title is
checkov's name for it): PASS when every resource passed, FAIL naming the
resources when one failed without an exception, SKIP with the exception's
reason when every failure is covered. A summary check ``POLICY`` says what ran
(checkov version, counts) and FAILs on an exception that covers nothing (a
stale one); it is ERROR when checkov or the configuration cannot be read, so a
missing scanner never passes. ``SH-RDS.25`` / ``SH-RDS.23``: Security Hub's
custom master username and non-default port controls.

Offline: ``--skip-download`` keeps checkov from calling its guidelines service.
"""

from __future__ import annotations

import json
import subprocess
import tomllib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tenantdb import checks
from tenantdb.errors import ToolkitError
from tenantdb.paths import PROJECT_ROOT, under_root
from tenantdb.report import Check, compare, errored, failed, passed, skipped
from tenantdb.settings import Settings

CONFIG = PROJECT_ROOT / "policy" / "checkov.toml"
TIMEOUT_S = 300
SUMMARY_ID = "POLICY"
SUMMARY_TITLE = checks.get(SUMMARY_ID).title
DEFAULT_MASTER_NAMES = ("postgres", "admin", "root", "rdsadmin")
SH = {cid: checks.get(cid).title for cid in ("SH-RDS.25", "SH-RDS.23")}
"""Security Hub controls checkov has no check for: id -> title (from the registry)."""


@dataclass(frozen=True)
class Waiver:
    """One exception from policy/checkov.toml."""

    id: str
    resources: tuple[str, ...]
    reason: str
    when: dict[str, Any] = field(default_factory=dict)

    def applies(self, s: Settings) -> bool:
        return all(_setting(s, key) == want for key, want in self.when.items())

    def covers(self, check_id: str, resource: str) -> bool:
        return check_id == self.id and resource in self.resources


@dataclass(frozen=True)
class Result:
    id: str
    name: str
    resource: str
    ok: bool


def _setting(s: Settings, key: str) -> Any:
    if key == "emulator":
        return bool(s.aws_endpoint_url)
    if key not in Settings.model_fields:
        raise ToolkitError(f"when.{key}: not a settings field (see the fields in tenantdb/settings_*.py)")
    return getattr(s, key)


def load_waivers(path: Path = CONFIG) -> list[Waiver]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ToolkitError(f"{path}: {exc}") from None
    out = []
    for i, entry in enumerate(data.get("exception", [])):
        try:
            waiver = Waiver(str(entry["id"]), tuple(entry["resources"]), str(entry["reason"]).strip(),
                            dict(entry.get("when", {})))
        except (KeyError, TypeError) as exc:
            raise ToolkitError(f"{path}: exception #{i + 1}: needs id, resources and reason ({exc})") from None
        if not waiver.reason or not waiver.resources:
            raise ToolkitError(f"{path}: exception {waiver.id}: an empty reason or resource list")
        out.append(waiver)
    return out


def checkov_binary(s: Settings) -> Path:
    path = Path(s.checkov_path)
    return under_root(path)


def scan(stack_file: Path, checkov: Path) -> tuple[str, list[Result]]:
    """Run checkov on one synthesized stack file; return its version and every result."""
    if not checkov.is_file():
        raise ToolkitError(f"checkov not found at {checkov}; run scripts/setup (tools-requirements.txt)")
    cmd = [str(checkov), "-f", str(stack_file), "--framework", "terraform_json", "--skip-download",
           "--compact", "-o", "json"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
                              cwd=stack_file.parent)
    except subprocess.TimeoutExpired:
        raise ToolkitError(f"checkov did not finish within {TIMEOUT_S} s") from None
    except OSError as exc:
        raise ToolkitError(f"checkov at {checkov} cannot run: {exc}") from None
    try:
        doc = json.loads(proc.stdout)
    except ValueError:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise ToolkitError(f"checkov exit {proc.returncode}, no JSON report: {last[:200]}") from None
    if proc.returncode not in (0, 1) or not isinstance(doc, dict) or "results" not in doc:
        raise ToolkitError(f"checkov exit {proc.returncode}: unexpected report")
    summary = doc.get("summary", {})
    if summary.get("parsing_errors"):
        raise ToolkitError(f"checkov could not parse {stack_file.name} ({summary['parsing_errors']} errors)")
    results = [Result(r["check_id"], r.get("check_name", ""), r["resource"], ok)
               for ok, key in ((True, "passed_checks"), (False, "failed_checks"))
               for r in doc["results"].get(key, [])]
    if not results:
        raise ToolkitError(f"checkov ran no check on {stack_file.name}")
    return str(summary.get("checkov_version", "?")), results


def checks(s: Settings, stack_file: Path, instance: dict[str, Any], config: Path = CONFIG) -> list[Check]:
    """Every policy check for one environment's database stack (never raises: ERROR instead)."""
    try:
        waivers = [w for w in load_waivers(config) if w.applies(s)]
    except ToolkitError as exc:
        return [errored(SUMMARY_ID, SUMMARY_TITLE, f"configuration: {exc}")]
    out = security_hub(s, instance, waivers)
    try:
        version, results = scan(stack_file, checkov_binary(s))
    except ToolkitError as exc:
        return [errored(SUMMARY_ID, SUMMARY_TITLE, str(exc)), *out]
    by_id: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        by_id[r.id].append(r)
    used: set[str] = {w.id for w in waivers if w.id in SH}
    per_id = []
    for cid in sorted(by_id, key=_order):
        check, used_here = _verdict(cid, by_id[cid], waivers)
        per_id.append(check)
        used |= used_here
    stale = [w.id for w in waivers if w.id not in used]
    counts = {st: sum(1 for c in per_id if c.status.value == st) for st in ("PASS", "FAIL", "SKIP")}
    actual = (f"checkov {version}: {len(results)} results, {len(by_id)} checks: {counts['PASS']} pass, "
              f"{counts['FAIL']} fail, {counts['SKIP']} by exception")
    summary = (failed(SUMMARY_ID, SUMMARY_TITLE, "no failure without an exception; no stale exception", actual,
                      f"exceptions that cover no failure here (remove them from policy/checkov.toml): "
                      f"{', '.join(stale)}") if stale else
               compare(SUMMARY_ID, SUMMARY_TITLE, "0 fail", f"{counts['FAIL']} fail", actual))
    return [summary, *per_id, *out]


def _verdict(cid: str, results: list[Result], waivers: list[Waiver]) -> tuple[Check, set[str]]:
    title = results[0].name or cid
    bad = [r for r in results if not r.ok]
    passed_n = len(results) - len(bad)
    expected = "passes on every resource"
    if not bad:
        return passed(cid, title, expected, f"{passed_n} resource(s) passed"), set()
    covered = {r.resource: next((w for w in waivers if w.covers(cid, r.resource)), None) for r in bad}
    open_ = sorted(res for res, w in covered.items() if w is None)
    if open_:
        return failed(cid, title, expected, f"failed on {', '.join(open_)}",
                      "fix the stack or add an exception with its reason to policy/checkov.toml"), set()
    reasons = sorted({w.reason for w in covered.values() if w})
    detail = f"exception (policy/checkov.toml) for {', '.join(sorted(covered))}: {' / '.join(reasons)}"
    if passed_n:
        detail += f"; {passed_n} other resource(s) passed"
    return skipped(cid, title, detail, expected), {cid}


def security_hub(s: Settings, instance: dict[str, Any], waivers: list[Waiver]) -> list[Check]:
    """RDS.25 and RDS.23 (Security Hub foundational controls checkov has no check for)."""
    user = instance.get("username")
    rds25 = (failed("SH-RDS.25", SH["SH-RDS.25"], "not a default name", user,
                    f"master username {user!r} is a default name; set settings master_username")
             if user in DEFAULT_MASTER_NAMES or not user else
             passed("SH-RDS.25", SH["SH-RDS.25"], "not a default name", user))
    port = instance.get("port")
    default = 5432
    waiver = next((w for w in waivers if w.covers("SH-RDS.23", "resource.db")), None)
    if port != default:
        rds23 = passed("SH-RDS.23", SH["SH-RDS.23"], f"not {default}", port)
    elif waiver:
        rds23 = skipped("SH-RDS.23", SH["SH-RDS.23"], f"exception (policy/checkov.toml): {waiver.reason}",
                        f"not {default}")
    else:
        rds23 = failed("SH-RDS.23", SH["SH-RDS.23"], f"not {default}", port,
                       "the default port without an exception in policy/checkov.toml")
    return [rds25, rds23]


def _order(cid: str) -> tuple[str, int]:
    """CKV_AWS_9 before CKV_AWS_10; CKV2_* after CKV_*."""
    head, _, num = cid.rpartition("_")
    return (head, int(num) if num.isdigit() else 0)
