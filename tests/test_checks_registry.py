"""The one registry of checks (tenantdb/checks.py): its rows are sound, `--list` prints them
without settings, AWS or a database, the runbook's table is the registry's, and the runner
fails closed on a function that misbehaves."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tenantdb import checks, verify
from tenantdb.commands import _list
from tenantdb.report import Status, errored, passed, skipped

PROJECT_ROOT = Path(__file__).resolve().parents[1]
RUNBOOK = PROJECT_ROOT / "docs" / "runbook.md"


def tenantdb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tenantdb.cli", *args], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)


# ----- the rows ------------------------------------------------------------------------

def test_one_row_per_id_and_every_reference_resolves() -> None:
    ids = [c.id for c in checks.REGISTRY]
    assert len(ids) == len(set(ids)), sorted({i for i in ids if ids.count(i) > 1})
    for c in checks.REGISTRY:
        assert c.title.strip() and "\n" not in c.title and c.requirement.strip(), c
        assert c.stages, f"{c.id} runs in no stage"
        if c.part_of:
            parent = checks.get(c.part_of)
            assert parent.part_of is None and (parent.check or parent.verify), c
            assert not (c.check or c.verify), f"{c.id}: a part has no function of its own"
        for st in checks.STAGES:
            ref = getattr(c, st)
            if ref:
                assert callable(checks.load(ref)), ref
        assert not c.needs_aws or c.verify, f"{c.id}: needs_aws only means something for verify"


def test_merged_aliases_are_gone_and_their_controls_exist() -> None:
    for old, new in checks.MERGED_ALIASES.items():
        assert old not in {c.id for c in checks.REGISTRY}
        assert set(checks.get(new).stages) == {"check", "verify"}, new


def test_requirements_name_no_tracker_number() -> None:
    text = " ".join(f"{c.title} {c.requirement}" for c in checks.REGISTRY)
    assert not re.search(r"issue [0-9]|LAYOUT\.md|TOOLCHAIN\.md", text, re.I)


def test_get_and_stage_refuse_unknown_names() -> None:
    with pytest.raises(KeyError, match="NO-SUCH"):
        checks.get("NO-SUCH")
    with pytest.raises(ValueError, match="plan"):
        checks.stage("plan")


def test_tls_runs_last_in_verify() -> None:
    assert checks.stage("verify")[-1].id == "TLS"  # it reports on every connection the others made
    assert [s.id for s in verify.CHECKS] == [c.id for c in checks.stage("verify") if c.verify]


# ----- --list -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def bare_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """No settings file that exists, no AWS credentials or region, no environment, no DSN."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "TENANTDB_", "PG"))}
    env["TENANTDB_SETTINGS"] = str(tmp_path_factory.mktemp("none") / "missing.toml")
    env["AWS_CONFIG_FILE"] = env["AWS_SHARED_CREDENTIALS_FILE"] = "/nonexistent"
    return env


@pytest.mark.parametrize("stage", checks.STAGES)
def test_list_prints_the_stage_as_a_table(stage: str, bare_env: dict[str, str]) -> None:
    proc = tenantdb(stage, "--list", env=bare_env)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["ID", "TITLE", "REQUIREMENT"]
    rows = checks.stage(stage)
    assert [ln.split("  ")[0] for ln in lines[1:len(rows) + 1]] == [c.id for c in rows]
    for c, line in zip(rows, lines[1:], strict=False):  # lines end with the count line
        assert c.title in line and c.requirement in line
    assert lines[-1] == f"{len(rows)} {stage} checks"


@pytest.mark.parametrize("stage", checks.STAGES)
def test_list_as_json(stage: str, bare_env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "list.json"
    proc = tenantdb(stage, "--list", "--format", "json", "--output", str(out), env=bare_env)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data == json.loads(out.read_text())
    assert data["stage"] == stage
    assert data["checks"] == [{"id": c.id, "title": c.title, "requirement": c.requirement}
                              for c in checks.stage(stage)]


def test_list_refuses_junit_in_one_line(bare_env: dict[str, str]) -> None:
    proc = tenantdb("verify", "--list", "--format", "junit", env=bare_env)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "--format" in proc.stderr


def test_verify_without_list_still_requires_env(bare_env: dict[str, str]) -> None:
    proc = tenantdb("verify", env=bare_env)
    assert proc.returncode == 2 and "--env" in proc.stderr


# ----- the runbook ----------------------------------------------------------------------------

def test_runbook_table_is_the_registry() -> None:
    text = RUNBOOK.read_text()
    assert _list.update_doc(text) == text, (
        "docs/runbook.md's table of checks differs from tenantdb/checks.py; regenerate it: "
        ".venv/bin/python -m tenantdb.commands._list docs/runbook.md")
    table = text.split(_list.BEGIN, 1)[1].split(_list.END, 1)[0]
    rows = [ln.split(" | ") for ln in table.splitlines() if ln.startswith("| ") and not ln.startswith("| id ")]
    assert [(r[0][2:], r[1], r[2]) for r in rows] == [(c.id, c.title, c.requirement) for c in checks.REGISTRY]
    for old, new in checks.MERGED_ALIASES.items():
        assert f"`{old}` -> `{new}`" in table


def test_runbook_verifier_guide_names_only_registered_checks() -> None:
    """The verifier's 'what it proves / when it fails' table may not name a stale or merged id."""
    guide = RUNBOOK.read_text().split("## The verifier", 1)[1].split("\n## ", 1)[0]
    ids = re.findall(r"^\| ([A-Z][A-Z0-9.-]+) \|", guide, re.M)
    assert ids and set(ids) <= {c.id for c in checks.stage("verify")}, set(ids) - {c.id for c in checks.REGISTRY}


# ----- the runner fails closed -----------------------------------------------------------------

def _run(behaviour: dict[str, object]) -> list:
    """Run the verify stage with each function replaced by what ``behaviour`` says for its id."""
    by_fn = {checks.load(c.verify): c.id for c in checks.stage("verify") if c.verify}

    def call(fn: object) -> object:
        cid = by_fn[fn]
        what = behaviour.get(cid, lambda: passed(cid, "a title of the function's own", "x", "x"))
        return what() if callable(what) else what

    return checks.run("verify", call, errored=errored, skipped=skipped)


def _outcome(behaviour: dict[str, object]) -> dict[str, object]:
    return {c.id: c for c in _run(behaviour)}


def test_runner_turns_an_exception_into_error() -> None:
    def boom() -> object:
        raise RuntimeError("the API said no\nsecond line")

    got = _outcome({"AC7": boom})
    assert got["AC7"].status is Status.ERROR and got["AC7"].detail == "RuntimeError: the API said no"
    assert got["AC7"].title == checks.get("AC7").title


def test_runner_takes_titles_from_the_registry() -> None:
    got = _outcome({})
    assert got["AC2"].title == checks.get("AC2").title and got["AC2"].status is Status.PASS


def test_runner_errors_on_an_id_the_registry_does_not_know() -> None:
    got = _outcome({"AC8": lambda: passed("AC8-TYPO", "t", "x", "x")})
    assert got["AC8-TYPO"].status is Status.ERROR and "does not register" in got["AC8-TYPO"].detail
    assert got["AC8"].status is Status.ERROR and "never reported" in got["AC8"].detail


def test_runner_errors_on_an_id_of_another_control() -> None:
    got = _run({"AC7": lambda: passed("AC8", "t", "x", "x")})
    assert [(c.id, c.status) for c in got if "AC7's function reported AC8" in c.detail] == [("AC8", Status.ERROR)]
    assert next(c for c in got if c.id == "AC7").status is Status.ERROR


def test_runner_errors_on_a_part_never_reported() -> None:
    parts = [p.id for p in checks.parts("ISO")]
    got = _outcome({"ISO": lambda: [passed(p, "", "x", "x") for p in parts[1:]]})
    assert got[parts[0]].status is Status.ERROR and "never reported" in got[parts[0]].detail
    assert "ISO" not in got  # a group reported through its parts needs no line of its own
    assert all(got[p].status is Status.PASS and got[p].title == checks.get(p).title for p in parts[1:])


def test_runner_skip_covers_the_parts_and_runs_nothing() -> None:
    def never(fn: object) -> object:
        raise AssertionError("a skipped control ran")

    got = checks.run("verify", never, errored=errored, skipped=skipped, skip=lambda c: "no AWS here")
    assert [c.id for c in got] == [c.id for c in checks.stage("verify") if not c.optional]
    assert all(c.status is Status.SKIP and c.detail == "no AWS here" for c in got)


# ----- verify against a real PostgreSQL: titles and order come from the registry -------------

def test_verify_report_follows_the_registry(pg_fresh, pg_master, pg_settings) -> None:
    """Not bootstrapped: much FAILs, but every line is a registered id with the registry's title,
    in registry order, AWS-side ones SKIP with the same title they would have when run."""
    rep = verify.run(pg_settings, master_dsn=pg_master.dsn())
    got = [c.id for c in rep.checks]
    order = [c.id for c in checks.stage("verify")]
    assert got == [i for i in order if i in got]
    groups = {c.part_of for c in checks.REGISTRY if c.part_of}  # reported through their parts
    assert set(order) - set(got) <= {c.id for c in checks.stage("verify") if c.optional or c.id in groups}
    for c in rep.checks:
        assert c.title == checks.get(c.id).title, c
        if checks.get(c.id).needs_aws:
            assert c.status is Status.SKIP and "--master-dsn" in c.detail
    assert rep.exit_code == 1


def test_runner_errors_on_a_function_returning_no_check() -> None:
    got = _outcome({"AC7": None, "AC8": lambda: iter([passed("AC8", "", "x", "x")])})
    assert got["AC7"].status is Status.ERROR and got["AC7"].detail.startswith("TypeError")
    assert got["AC8"].status is Status.PASS  # a generator of checks is fine


def test_runner_errors_on_a_function_returning_what_is_not_a_check() -> None:
    """A function that returns text where checks belong could not run: ERROR naming it, never PASS."""
    got = _outcome({"AC7": lambda: ["PASS"]})
    assert got["AC7"].status is Status.ERROR
    assert got["AC7"].detail == "TypeError: tenantdb.verify.db_checks:ac7_database returned list, not report checks"


# ----- one source for a title ------------------------------------------------------------------

CHECK_MODULES = sorted([*(PROJECT_ROOT / "tenantdb" / "verify").glob("*.py"),
                        *(PROJECT_ROOT / "tenantdb" / "infra" / "check").glob("*.py")])


def test_no_check_module_keeps_a_title_of_its_own() -> None:
    """Titles live in the registry alone (checks.title, or the registry's Control): a copy beside it
    drifts, so no check module spells a registered title or binds one to a name."""
    assert CHECK_MODULES
    own_title = re.compile(r"^[^#\n]*\b\w*title\w*\s*=\s*f?[\"']", re.I | re.M)
    for path in CHECK_MODULES:
        text = path.read_text()
        assert not own_title.search(text), (path.name, own_title.search(text))
        spelled = [c.id for c in checks.REGISTRY if f'"{c.title}"' in text]
        assert not spelled, (path.name, spelled)
