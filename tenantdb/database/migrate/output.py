"""The migrate report: ``table`` for people, ``json`` for pipelines (a contract: keep the keys)."""

from __future__ import annotations

import json
from typing import Any

from tenantdb import report
from tenantdb.database.migrate.runner import Result

COLUMNS = ("tenant", "from", "to", "status", "seconds", "error")


def summary(r: Result) -> dict[str, Any]:
    counts = {k: sum(1 for t in r.tenants if t["status"] == k) for k in ("migrated", "current", "failed")}
    return {"tenants": len(r.tenants), **counts, "failed_tenants": r.failed, "posture": r.posture["status"]}


def as_json(r: Result) -> str:
    return json.dumps({"migrations": r.directory, "target": r.target, "login": r.login, "jobs": r.jobs,
                       "summary": summary(r), "tenants": r.tenants, "posture": r.posture,
                       "converged": r.converged}, indent=2)


def as_table(r: Result) -> str:
    rows = [{"tenant": t["slug"], "from": ",".join(t["from"]) or "-", "to": ",".join(t.get("to") or []) or "-",
             "status": t["status"], "seconds": f"{t.get('seconds', 0.0):.2f}", "error": t.get("error", "")}
            for t in r.tenants]
    lines = report.columns(rows, COLUMNS)
    s = summary(r)
    lines.append(f"{s['tenants']} tenant(s) at target {', '.join(r.target)}: {s['migrated']} migrated, "
                 f"{s['current']} already current, {s['failed']} failed; jobs {r.jobs}; as {r.login}"
                 + (f"; {r.converged} tenant schema(s) converged first" if r.converged else ""))
    p = r.posture
    if p["status"] != "SKIP":
        lines.append(f"posture of the {p['schemas']} migrated schema(s): {p['status']}"
                     + "".join(f"\n  {f['schema']}.{f['table']}: {f['problem']}" for f in p["findings"])
                     + (f" ({p['error']})" if p.get("error") else ""))
    return "\n".join(lines)


def render(r: Result, fmt: str) -> str:
    if r.sql is not None:
        return r.sql if fmt == "table" else json.dumps({"migrations": r.directory, "target": r.target,
                                                         "sql": r.sql, "tenants": r.tenants}, indent=2)
    return as_json(r) if fmt == "json" else as_table(r)
