"""The measured block of docs/performance.md: written between two markers, so
the sections around it (written by others, and the findings) are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.measure import Figure

BEGIN = "<!-- bench:begin (written by bench/run; edit outside these markers) -->"
END = "<!-- bench:end -->"

GROUPS = (("synth", "1. Synth"), ("bootstrap", "2. Bootstrap"), ("verify", "3. Verify"),
          ("tenants", "4. Tenant scale"), ("rls", "5. RLS overhead"), ("local", "6. The local pipeline"),
          ("migrate", "7. Tenant migrations"))


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "**no**"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def table(figures: list[Figure], with_notes: bool = False) -> str:
    head = "| benchmark | figure | floor | ratio | goal | met |" + (" spread | how |" if with_notes else "")
    rule = "|---|---|---|---|---|---|" + ("---|---|" if with_notes else "")
    rows = [head, rule]
    for f in figures:
        unit = f" {f.unit}" if f.figure is not None and f.unit not in ("x", "bool") else ""
        floor_unit = f" {f.unit}" if f.floor is not None and f.unit not in ("x", "bool") else ""
        if f.floor_kind == "bound":
            floor_unit += " (lower bound, not measured)"
        row = (f"| {f.name} | {_fmt(f.figure)}{unit} | {_fmt(f.floor)}{floor_unit} | {_fmt(f.ratio)} | "
               f"{_fmt(f.goal)} | {_fmt(f.met) if f.goal else 'no goal'} |")
        if with_notes:
            row += f" {f.spread or '-'} | {f.note.replace('|', '/') or '-'} |"
        rows.append(row)
    return "\n".join(rows)


def block(figures: list[Figure], meta: dict[str, Any], plot: Path) -> str:
    goals = [f for f in figures if f.goal]
    met = sum(1 for f in goals if f.met)
    runs = meta["runs"]
    machines = sorted({r["machine"] for r in runs.values()})
    out = [BEGIN, "", "## Measured: bench/run", "", f"Machine: {'; '.join(machines)}. The machine is shared "
           "with other work; the commit measured (git rev-parse HEAD; \"dirty\": with uncommitted changes) and "
           "the load average (1/5/15 min) at the start and end of each benchmark:", "",
           "| benchmark | date | commit | load at start | load at end | minutes |", "|---|---|---|---|---|---|"]
    out += [f"| {name} | {r['date']} | {r.get('commit', 'not recorded')} | {r['load_before']} | {r['load_after']} | "
            f"{r['minutes']} |" for name, r in runs.items()]
    out += ["", f"### Summary: {met} of {len(goals)} goals met", "",
           table(goals), ""]
    for prefix, title in GROUPS:
        group = [f for f in figures if f.name.startswith(prefix + ".")]
        if group:
            out += [f"### {title}", "", table(group, with_notes=True), ""]
    out += ["### Tenant scale plot", "",
            f"![tenant scale]({plot.name})", "",
            "Left (blue): the ISO posture query's median time in seconds against the tenant count (10 "
            "isolated tables per tenant). Right (orange): the real `tenant create` path's median time per "
            "tenant in milliseconds (the tenant and its 10 tables) against the tenant count at which it "
            "was measured.", "", END]
    return "\n".join(out)


def merge(results: Path, chosen: list[str], figures: list[Figure], meta: dict[str, Any]
          ) -> tuple[list[Figure], dict[str, Any]]:
    """The stored full-size figures with the benchmarks just run replaced; stored back to ``results``.

    Each benchmark keeps the date and load average of the run that measured it.
    """
    import json

    old = json.loads(results.read_text()) if results.exists() else {"runs": {}, "figures": []}
    runs = {k: v for k, v in old["runs"].items() if k not in chosen}
    for name in chosen:
        before, after = meta.get("loads", {}).get(name, [meta["load_before"], meta["load_after"]])
        runs[name] = {"date": meta["date"], "machine": meta["machine"], "commit": meta.get("commit", ""),
                      "load_before": before, "load_after": after,
                      "minutes": round(meta["timings"].get(name, 0) / 60, 1)}
    kept = [Figure(**{k: v for k, v in f.items()}) for f in old["figures"] if f.get("bench") not in chosen]
    for f in figures:
        f.bench = _bench_of(f.name, chosen)
    allf = kept + figures
    order = {name: i for i, name in enumerate(("synth", "bootstrap", "tenants", "rls", "migrate", "local"))}
    allf.sort(key=lambda f: order.get(f.bench, 9))
    results.write_text(json.dumps({"runs": runs, "figures": [f.to_json() | {"bench": f.bench} for f in allf]},
                                  indent=1) + "\n")
    return allf, {"runs": runs}


def _bench_of(name: str, chosen: list[str]) -> str:
    head = name.split(".")[0]
    if head == "verify":
        return "local" if name.startswith("verify.aws") else "tenants"
    return head if head in chosen else chosen[0]


def write(path: Path, figures: list[Figure], meta: dict[str, Any], plot: Path) -> None:
    text = path.read_text() if path.exists() else "# Performance\n"
    new = block(figures, meta, plot)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        _, tail = rest.split(END, 1)
        text = head + new + tail
    else:
        text = text.rstrip("\n") + "\n\n" + new + "\n"
    path.write_text(text)
