"""The CLI's conventions, through the real `tenantdb` in a subprocess: --version, one JSON shape,
--output FILE (never a format), --format, NO_COLOR/FORCE_COLOR, progress only on a terminal,
TENANTDB_ENV, the master DSN from the environment and PGPASSWORD, verify --fail-on-skip."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys
import threading
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from tenantdb import report
from tenantdb.infra import apply
from tenantdb.local import emulator
from tests.fixtures_pg import TEST_ENV

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "tenantdb.cli"]
ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
CLEAN = ("TENANTDB_ENV", "TENANTDB_MASTER_DSN", "PGPASSWORD", "NO_COLOR", "FORCE_COLOR", "COLUMNS")
"""Variables the tests set themselves: the caller's values would change what the CLI does."""


@dataclass(frozen=True)
class Run:
    returncode: int
    stdout: str
    stderr: str


def tenantdb(*args: str, env: dict[str, str] | None = None, tty: tuple[str, ...] = (), cwd: Path = PROJECT_ROOT,
             timeout: float = 900) -> Run:
    """Run the CLI with a clean environment plus ``env``; the streams named in ``tty`` are a terminal."""
    full = {k: v for k, v in os.environ.items() if k not in CLEAN} | (env or {})
    streams: dict[str, int] = {}
    readers: dict[str, tuple[threading.Thread, list[bytes]]] = {}
    for name in tty:
        master, slave = pty.openpty()
        streams[name] = slave
        chunks: list[bytes] = []
        thread = threading.Thread(target=_drain, args=(master, chunks), daemon=True)
        thread.start()
        readers[name] = (thread, chunks)
    proc = subprocess.Popen([*CLI, *args], cwd=cwd, env=full, text=True,
                            stdout=streams.get("stdout", subprocess.PIPE),
                            stderr=streams.get("stderr", subprocess.PIPE))
    for fd in streams.values():
        os.close(fd)  # the child holds its copy; EOF on the master once it exits
    out, err = proc.communicate(timeout=timeout)
    got = {"stdout": out or "", "stderr": err or ""}
    for name, (thread, chunks) in readers.items():
        thread.join(timeout=30)
        got[name] = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
    return Run(proc.returncode, got["stdout"], got["stderr"])


def _drain(fd: int, chunks: list[bytes]) -> None:
    try:
        while data := os.read(fd, 65536):
            chunks.append(data)
    except OSError:  # EIO: the terminal's other end closed
        pass
    finally:
        os.close(fd)


def one_line_error(run: Run, code: int = 2) -> str:
    assert run.returncode == code, run
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tenantdb: error: ") and "Traceback" not in run.stderr, run
    return lines[0]


@pytest.fixture(scope="module")
def no_emulator(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An overlay whose local emulator port answers nothing: `plan --env local` reports ERROR at once
    (no synth, no terraform), which makes it the quick way to a real report on stdout."""
    path = tmp_path_factory.mktemp("cli") / "no-emulator.toml"
    state = tmp_path_factory.mktemp("cli-state")
    return apply.emulator_overlay(path, {"local": {"local_moto_port": emulator.free_port(),
                                                   "local_state_dir": str(state)}})


# ----- --version and the report's versions ------------------------------------------------

def test_version_is_the_package_version_and_the_report_schema() -> None:
    run = tenantdb("--version")
    assert run.returncode == 0, run
    assert run.stdout.strip() == f"tenantdb {metadata.version('tenantdb')} (report schema {report.SCHEMA_VERSION})"


# ----- --output is a file, never a format ----------------------------------------------------

@pytest.mark.parametrize("args", [
    ("check",), ("verify", "--env", "dev"), ("plan", "--env", "dev"), ("bootstrap", "--env", "dev"),
    ("tenant", "list", "--env", "dev"), ("local", "up"), ("local", "status"),
])
def test_output_given_a_format_is_refused_with_a_hint(args: tuple[str, ...], tmp_path: Path) -> None:
    run = tenantdb(*args, "--output", "json", cwd=tmp_path, timeout=60)
    line = one_line_error(run)
    assert "'json' is a format, not a file: did you mean --format json?" in line
    assert run.stdout == "" and list(tmp_path.iterdir()) == []  # no file named json, nothing started


def test_output_given_a_format_this_command_lacks_names_its_formats(tmp_path: Path) -> None:
    line = one_line_error(tenantdb("tenant", "list", "--env", "dev", "--output", "junit", cwd=tmp_path, timeout=60))
    assert "--format is one of table, json" in line and "./junit" in line


def test_output_into_a_missing_directory_is_refused_before_any_work(tmp_path: Path) -> None:
    line = one_line_error(tenantdb("check", "--output", str(tmp_path / "nope" / "check.xml"), timeout=60))
    assert "does not exist" in line


def test_check_output_json_behaves_as_described(tmp_path: Path) -> None:
    """The exact command from the requirement: refused, exit 2, and ./json is the way to that file."""
    run = tenantdb("check", "--output", "json", cwd=tmp_path, timeout=60)
    assert "did you mean --format json?" in one_line_error(run) and not (tmp_path / "json").exists()


# ----- the one JSON shape, TENANTDB_ENV, colour and progress on a quick real report -------------

def test_plan_report_has_the_one_shape_and_writes_output_without_colour(no_emulator: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.json"
    run = tenantdb("--settings", str(no_emulator), "plan", "--env", "local", "--format", "json",
                   "--output", str(out), env={"FORCE_COLOR": "1"})
    assert run.returncode == 1, run  # ERROR: nothing answers at the emulator port
    doc = json.loads(run.stdout)
    assert json.loads(out.read_text()) == doc
    assert doc["schema_version"] == report.SCHEMA_VERSION and doc["toolkit_version"] == metadata.version("tenantdb")
    assert doc["stage"] == "plan" and doc["environment"] == "local"
    assert doc["environments"] == [{"environment": "local", "summary": doc["summary"]}]
    assert [c["environment"] for c in doc["checks"]] == ["local"] and doc["checks"][0]["status"] == "ERROR"


def test_junit_carries_the_toolkit_and_schema_versions(no_emulator: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.xml"
    run = tenantdb("--settings", str(no_emulator), "plan", "--env", "local", "--format", "junit", "--output", str(out))
    assert run.returncode == 1, run
    suite = ET.parse(out).getroot().find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["toolkit_version"] == metadata.version("tenantdb")
    assert props["schema_version"] == str(report.SCHEMA_VERSION)


@pytest.mark.parametrize("env, tty, painted", [
    ({}, ("stdout",), True),                    # a terminal: colour
    ({}, (), False),                            # a pipe: none
    ({"NO_COLOR": "1"}, ("stdout",), False),     # NO_COLOR beats the terminal
    ({"FORCE_COLOR": "1"}, (), True),           # FORCE_COLOR paints a pipe (CI logs)
    ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, (), False),
    ({"FORCE_COLOR": "0"}, (), False),
])
def test_colour_follows_no_color_force_color_and_the_terminal(no_emulator: Path, env: dict, tty: tuple,
                                                             painted: bool) -> None:
    run = tenantdb("--settings", str(no_emulator), "plan", "--env", "local", env={**env, "TERM": "xterm"}, tty=tty)
    assert run.returncode == 1 and "ERROR" in run.stdout, run
    assert ("\x1b[31;1mERROR" in run.stdout) is painted, run.stdout


def test_forced_colour_stays_out_of_the_output_file(no_emulator: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.txt"
    run = tenantdb("--settings", str(no_emulator), "plan", "--env", "local", "--output", str(out),
                   env={"FORCE_COLOR": "1"})
    assert run.returncode == 1 and "\x1b[" in run.stdout, run
    assert out.read_text() == ANSI.sub("", run.stdout) and "ERROR" in out.read_text()


def test_progress_shows_on_a_terminal_only(no_emulator: Path) -> None:
    on_tty = tenantdb("--settings", str(no_emulator), "plan", "--env", "local", tty=("stderr",))
    assert on_tty.returncode == 1
    assert re.search(r"ok plan local: .*\(\d+\.\d s\)", ANSI.sub("", on_tty.stderr)), on_tty.stderr
    piped = tenantdb("--settings", str(no_emulator), "plan", "--env", "local")
    assert piped.returncode == 1 and piped.stderr == "", piped.stderr


def test_tenantdb_env_is_the_default_and_an_explicit_env_wins(no_emulator: Path) -> None:
    from_env = tenantdb("--settings", str(no_emulator), "plan", "--format", "json", env={"TENANTDB_ENV": "local"})
    assert json.loads(from_env.stdout)["environment"] == "local", from_env
    line = one_line_error(tenantdb("--settings", str(no_emulator), "plan", "--format", "json",
                                   env={"TENANTDB_ENV": "qa"}))
    assert "TENANTDB_ENV='qa': unknown environment; use one of local, dev, staging, prod" in line
    # An explicit --env wins over a bad TENANTDB_ENV.
    explicit = tenantdb("--settings", str(no_emulator), "plan", "--env", "local", "--format", "json",
                        env={"TENANTDB_ENV": "qa"})
    assert json.loads(explicit.stdout)["environment"] == "local", explicit
    assert "--env is required (or set TENANTDB_ENV)" in one_line_error(tenantdb("verify", timeout=60))


def test_local_status_writes_output_file(no_emulator: Path, tmp_path: Path) -> None:
    out = tmp_path / "status.json"
    run = tenantdb("--settings", str(no_emulator), "local", "status", "--format", "json", "--output", str(out))
    assert run.returncode == 0, run
    assert json.loads(out.read_text()) == json.loads(run.stdout) and json.loads(run.stdout)["environment"] == "local"


# ----- check: the requirement's commands (one synth each) -----------------------------------------

def test_tenantdb_env_prod_check_format_json_reports_prod_alone() -> None:
    run = tenantdb("check", "--format", "json", env={"TENANTDB_ENV": "prod"})
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert run.stderr == ""  # no progress into a pipe
    doc = json.loads(run.stdout)
    assert doc["environment"] == "prod" and [e["environment"] for e in doc["environments"]] == ["prod"]
    assert {c["environment"] for c in doc["checks"]} == {"prod"} and doc["summary"]["fail"] == 0
    assert doc["summary"] == doc["environments"][0]["summary"]
    assert doc["schema_version"] == report.SCHEMA_VERSION


def test_no_color_check_env_dev_on_a_terminal_is_plain_and_reads_well() -> None:
    run = tenantdb("check", "--env", "dev", env={"NO_COLOR": "1", "COLUMNS": "100"}, tty=("stdout",))
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "\x1b[" not in run.stdout
    lines = run.stdout.splitlines()
    assert lines[0] == "check · dev" and any(re.match(r"  AC1 +PASS ", ln) for ln in lines)
    assert max(len(ln) for ln in lines) <= 100  # wrapped to the terminal, not cut
    cells = run.stdout.replace("\n", " ")
    for repr_text in (" False", " True", " None", "['", "{'"):
        assert repr_text not in cells, repr_text
    assert run.stderr == ""  # stderr is a pipe here: no progress


# ----- the master DSN from the environment and PGPASSWORD; --fail-on-skip; --format/--output --------

def test_master_dsn_from_the_environment_with_pgpassword(pg_fresh, pg_master, pg_overlay, tmp_path: Path) -> None:
    base = ["--settings", str(pg_overlay)]
    no_password = pg_master.dsn().replace(f":{pg_master.password.replace('/', '%2F')}@", "@")
    assert pg_master.password not in no_password
    env = {"TENANTDB_MASTER_DSN": no_password, "PGPASSWORD": pg_master.password}
    junit = tmp_path / "bootstrap.xml"
    boot = tenantdb(*base, "bootstrap", "--env", TEST_ENV, "--format", "junit", "--output", str(junit), env=env)
    assert boot.returncode == 0 and boot.stderr == "", boot  # no warning: nothing secret in argv
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("name") == f"tenantdb.bootstrap.{TEST_ENV}"
    assert {p.get("name") for p in suite.iter("property")} >= {"toolkit_version", "schema_version"}
    assert int(suite.get("tests")) > 0 and suite.get("failures") == "0"

    # The password in argv works, with a warning that never shows it.
    listed_file = tmp_path / "tenants.json"
    argv = tenantdb(*base, "tenant", "list", "--env", TEST_ENV, "--format", "json", "--output", str(listed_file),
                    "--master-dsn", pg_master.dsn())
    assert argv.returncode == 0, argv
    assert (argv.stderr.startswith("tenantdb: warning: --master-dsn holds a password")
            and "TENANTDB_MASTER_DSN" in argv.stderr)
    assert pg_master.password not in argv.stderr + argv.stdout
    assert json.loads(listed_file.read_text()) == json.loads(argv.stdout)

    boot_json = tenantdb(*base, "bootstrap", "--env", TEST_ENV, "--format", "json", env=env)
    data = json.loads(boot_json.stdout)
    assert data["changed"] == 0 and data["schema_version"] == report.SCHEMA_VERSION and data["toolkit_version"]


def test_master_dsn_from_the_environment_is_checked_naming_its_source(pg_overlay) -> None:
    run = tenantdb("--settings", str(pg_overlay), "bootstrap", "--env", TEST_ENV,
                   env={"TENANTDB_MASTER_DSN": "postgresql://u:Hunter2-pw@127.0.0.1:5432/postgres?sslmode=disable"},
                   timeout=60)
    line = one_line_error(run)
    assert line.startswith("tenantdb: error: TENANTDB_MASTER_DSN: sslmode=disable is not allowed")
    assert "Hunter2-pw" not in run.stderr + run.stdout


def test_verify_fail_on_skip_refuses_a_run_with_skips(pg_fresh, pg_master, pg_overlay) -> None:
    """With a master DSN the AWS checks SKIP (AWS is not consulted): a pass, unless --fail-on-skip."""
    base = ["--settings", str(pg_overlay)]
    env = {"TENANTDB_MASTER_DSN": pg_master.dsn()}
    assert tenantdb(*base, "bootstrap", "--env", TEST_ENV, env=env).returncode == 0
    verify = tenantdb(*base, "verify", "--env", TEST_ENV, "--format", "json", env=env)
    doc = json.loads(verify.stdout)
    bad = [(c["id"], c["detail"]) for c in doc["checks"] if c["status"] in ("FAIL", "ERROR")]
    assert verify.returncode == 0 and bad == [] and doc["summary"]["skip"] > 0, bad
    strict = tenantdb(*base, "verify", "--env", TEST_ENV, "--fail-on-skip", env=env)
    assert strict.returncode == 1, strict
    assert strict.stderr.strip() == (f"tenantdb: warning: verify: {doc['summary']['skip']} check(s) SKIP and "
                                     "--fail-on-skip is set: exit 1")
