"""The measured block of docs/performance.md: written between two markers, so
the sections around it (written by others, and the findings) are kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.measure import Figure

BEGIN = "<!-- bench:begin (written by bench/run; edit outside these markers) -->"
END = "<!-- bench:end -->"

GROUPS = (("synth", "1. Synth"), ("bootstrap", "2. Bootstrap"), ("verify", "3. Verify"),
          ("tenants", "4. Tenant scale"), ("rls", "5. RLS overhead"), ("local", "6. The local pipeline"))


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
        row = (f"| {f.name} | {_fmt(f.figure)}{unit} | {_fmt(f.floor)}{floor_unit} | {_fmt(f.ratio)} | "
               f"{_fmt(f.goal)} | {_fmt(f.met) if f.goal else 'no goal'} |")
        if with_notes:
            row += f" {f.spread or '-'} | {f.note.replace('|', '/') or '-'} |"
        rows.append(row)
    return "\n".join(rows)


def block(figures: list[Figure], meta: dict[str, Any], plot: Path) -> str:
    goals = [f for f in figures if f.goal]
    met = sum(1 for f in goals if f.met)
    out = [BEGIN, "", "## Measured: bench/run", "",
           f"`bench/run` on {meta['date']}: {meta['machine']}; load average (1/5/15 min) "
           f"{meta['load_before']} at the start, {meta['load_after']} at the end (the machine is shared). "
           f"Minutes per benchmark: {', '.join(f'{k} {v / 60:.1f}' for k, v in meta['timings'].items())}.",
           "", f"### Summary: {met} of {len(goals)} goals met", "",
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
