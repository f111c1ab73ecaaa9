"""The report's own rules: one JSON shape for one environment or several, plain-text values,
a table that wraps long text by word, and colour decided by NO_COLOR/FORCE_COLOR."""

from __future__ import annotations

import io
import json

import pytest

from tenantdb import report

LONG = ("Parameter group: shared_buffers, work_mem, log_min_duration_statement and "
        "rds.force_ssl match the environment's settings")


def sample(env: str) -> report.Report:
    rep = report.Report(env, "check")
    rep.add(report.passed("AC1", "Engine is PostgreSQL 15", "postgres 15", "postgres 15.7"),
            report.compare("AC3", LONG, True, False),
            report.failed("LOGS", "Log exports", ["${aws_cloudwatch_log_group.pg.name}", "upgrade"], None),
            report.skipped("NET", "Network stand-in", "emulator: " + "no network layer here " * 6))
    return rep


def test_one_environment_and_several_have_the_same_shape() -> None:
    one = json.loads(report.to_json([sample("dev")]))
    several = json.loads(report.to_json([sample("dev"), sample("prod")]))
    assert set(one) == set(several) == {"schema_version", "toolkit_version", "stage", "environment",
                                        "environments", "checks", "summary"}
    assert one["environment"] == "dev" and several["environment"] == report.ALL
    assert [e["environment"] for e in several["environments"]] == ["dev", "prod"]
    assert [c["environment"] for c in several["checks"]] == ["dev"] * 4 + ["prod"] * 4
    assert several["summary"] == {k: 2 * v for k, v in one["summary"].items()}
    assert one["summary"] == one["environments"][0]["summary"] == {"pass": 1, "fail": 2, "error": 0, "skip": 1}


def test_values_are_plain_text_not_python_reprs() -> None:
    checks = {c["id"]: c for c in json.loads(report.to_json([sample("dev")]))["checks"]}
    assert (checks["AC3"]["expected"], checks["AC3"]["actual"]) == ("true", "false")
    assert checks["AC3"]["detail"] == "expected true, found false"
    assert checks["LOGS"]["expected"] == "${aws_cloudwatch_log_group.pg.name}, upgrade"
    assert checks["LOGS"]["actual"] == "none"
    assert report.plain({"a": [], "b": None}) == "a=none, b=none"


@pytest.mark.parametrize("width", [80, 100, 140])
def test_table_wraps_long_text_by_word_within_the_width(width: int) -> None:
    text = report.to_table([sample("dev")], color=False, width=width)
    lines = text.splitlines()
    assert max(len(ln) for ln in lines) <= width
    start, end = lines[1].index("Engine"), lines[1].index("postgres 15.7")  # the title and result columns
    ac3 = next(i for i, ln in enumerate(lines) if ln.startswith("  AC3 "))
    block = [lines[ac3]]
    for ln in lines[ac3 + 1:]:
        if not ln.startswith(" " * start):
            break
        block.append(ln)
    titles = [ln[start:end].strip() for ln in block]
    assert len([t for t in titles if t]) > 1  # it did wrap
    assert " ".join(t for t in titles if t) == LONG  # whole, never cut mid-word
    for bad in ("True", "False", "None", "['"):
        assert bad not in text


@pytest.mark.parametrize("env, tty, expected", [
    ({}, True, True), ({}, False, False), ({"NO_COLOR": "1"}, True, False), ({"NO_COLOR": ""}, True, True),
    ({"FORCE_COLOR": "1"}, False, True), ({"FORCE_COLOR": "0"}, False, False),
    ({"NO_COLOR": "1", "FORCE_COLOR": "1"}, False, False), ({"TERM": "dumb"}, True, False),
])
def test_colour_decision(monkeypatch: pytest.MonkeyPatch, env: dict, tty: bool, expected: bool) -> None:
    for name in ("NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    assert report.use_color(Stream()) is expected


def test_run_check_fails_closed() -> None:
    """The one fail-closed path (the registry's runner takes it too): whatever a check function does
    wrong is ERROR under its id, with a one-line reason."""
    def boom() -> report.Check:
        raise RuntimeError("no route to host\nsecond line")

    (err,) = report.run_check("AC1", "Engine", boom)
    assert (err.id, err.status, err.detail) == ("AC1", report.Status.ERROR, "RuntimeError: no route to host")
    for bad in (None, "PASS", [report.passed("AC1", "Engine"), "PASS"]):
        (err,) = report.run_check("AC1", "Engine", lambda bad=bad: bad, what="m:f")
        assert err.status is report.Status.ERROR and err.detail.startswith("TypeError"), bad
    ok = report.passed("AC1", "Engine")
    assert report.run_check("AC1", "Engine", lambda: ok) == [ok]
    assert report.run_check("AC1", "Engine", lambda: iter([ok, ok])) == [ok, ok]
