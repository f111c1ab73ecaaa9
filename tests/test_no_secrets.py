"""No secret anywhere (issue 6): after the whole local pipeline has run (the session's
`local up`, and every command the other tests ran against it), the master, app_user and
migrator passwords, read from the emulator's secrets, appear in clear or URL-encoded in none of:

- the output of every command run against the environment (local up, the fault tests'
  bootstraps and verifies, the load test's verify, and the commands run here: local status,
  bootstrap, verify in each format, tenant list, check);
- any file under the local state directory: the Terraform state files and their backups,
  cdktf.out/, the PostgreSQL server log and data directory, the emulator's log, pid records;
- the report files written with --output, the project's test-artifacts/ and cdktf.out/;
- the command lines and environments of the emulator and the PostgreSQL server;
- what PostgreSQL keeps of the statements it ran (pg_stat_statements).

Why none can: the master password lives only in the RDS-managed secret (Terraform never sees
it); the bootstrap sets every password as a SCRAM verifier computed client-side, and the
parameter group logs no statement text by class (log_statement = none: AWS's rotation function
sends ALTER USER ... PASSWORD in clear), so the server log holds no password; errors name
user@host:port/db and never a password. This test proves it rather than assuming it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest

from tenantdb.aws import Aws
from tenantdb.database.plumbing.master import parse_endpoint
from tenantdb.local import state
from tenantdb.local.postgres import Cluster
from tenantdb.settings import Settings
from tests.fixtures_local import LocalCli, Run

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def passwords(local_cold_up: Run, local_settings: Settings) -> dict[str, str]:
    assert local_cold_up.returncode == 0, local_cold_up.stderr[-3000:]
    s = local_settings
    aws = Aws(s)
    found = {"master": aws.master_credentials()[1],
             "app_user": aws.secret_json(s.connection_secret_name)["password"],
             "migrator": aws.secret_json(s.migrator_secret_name)["password"]}
    for who, pw in found.items():
        assert len(pw) >= 16, f"{who}'s password is too short to search for without false alarms"
    return found


def needles(passwords: dict[str, str]) -> dict[bytes, str]:
    """Each password as it could appear: in clear, URL-encoded (path and form style)."""
    out: dict[bytes, str] = {}
    for who, pw in passwords.items():
        for form, text in (("clear", pw), ("url-encoded", quote(pw, safe="")), ("form-encoded", quote_plus(pw))):
            out[text.encode()] = f"{who}'s password ({form})"
    return out


def leaks(data: bytes, found: dict[bytes, str]) -> list[str]:
    return sorted({what for needle, what in found.items() if needle in data})


def files_under(root: Path) -> Iterator[Path]:
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = Path(dirpath) / name
            if path.is_file() and not path.is_symlink():
                yield path


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports")


@pytest.fixture(scope="module")
def commands(local_cli: LocalCli, passwords: dict[str, str], report_dir: Path) -> list[Run]:
    """The operator's commands against the running environment, each output kept by local_cli."""
    runs = [
        local_cli("local", "status"),
        local_cli("local", "status", "--format", "json"),
        local_cli("bootstrap", "--env", "local"),
        local_cli("bootstrap", "--env", "local", "--format", "json"),
        local_cli("verify", "--env", "local"),
        local_cli("verify", "--env", "local", "--format", "json", "--output", str(report_dir / "verify.json")),
        local_cli("verify", "--env", "local", "--format", "junit", "--output", str(report_dir / "verify.xml")),
        local_cli("tenant", "list", "--env", "local"),
        local_cli("tenant", "list", "--env", "local", "--format", "json"),
        local_cli("check", "--env", "local", "--format", "json", "--output", str(report_dir / "check.json")),
    ]
    for run in runs[:-1]:
        assert run.returncode == 0, (run.args, run.stderr[-2000:])
    assert runs[-1].returncode in (0, 1) and "Traceback" not in runs[-1].stderr, runs[-1].stderr[-2000:]
    return runs


def test_no_command_output_holds_a_password(commands: list[Run], local_cli: LocalCli,
                                            passwords: dict[str, str]) -> None:
    found = needles(passwords)
    # The search finds what it looks for (a connection URI as the secret holds it) ...
    probe = leaks(f"postgresql://app_user:{quote(passwords['app_user'], safe='')}@h/db".encode(), found)
    assert probe and all(what.startswith("app_user's password") for what in probe), probe
    # ... and finds it nowhere in what the commands printed.
    assert len(local_cli.runs) >= len(commands) + 1  # the session's local up too, and the other tests' runs
    bad = {" ".join(run.args): leaks((run.stdout + run.stderr).encode(), found) for run in local_cli.runs}
    assert {cmd: what for cmd, what in bad.items() if what} == {}
    print(f"\nsearched the output of {len(local_cli.runs)} commands: no password", flush=True)


def test_no_file_holds_a_password(commands: list[Run], local_settings: Settings, passwords: dict[str, str],
                                  report_dir: Path) -> None:
    found = needles(passwords)
    directory = state.state_dir(local_settings.local_state_dir)
    roots = [directory, report_dir, PROJECT_ROOT / "test-artifacts", PROJECT_ROOT / "cdktf.out"]
    searched: list[Path] = []
    bad: dict[str, list[str]] = {}
    for root in roots:
        for path in files_under(root):
            searched.append(path)
            what = leaks(path.read_bytes(), found)
            if what:
                bad[str(path)] = what
    assert bad == {}
    # It looked where the secrets could have gone (else the search proves nothing).
    names = {p.name for p in searched}
    assert sum(1 for p in searched if p.name.endswith(".tfstate")) >= 2  # both stacks' states
    assert {"postgres.log", "moto.log", "verify.json", "verify.xml", "check.json"} <= names
    assert any(p.name == "cdk.tf.json" for p in searched)
    assert any("pg_wal" in p.parts for p in searched)  # the server's write-ahead log, where ALTER ROLE went
    size = sum(p.stat().st_size for p in searched)
    print(f"\nsearched {len(searched)} files ({size / 1e6:.0f} MB): no password", flush=True)


def test_the_servers_hold_no_password_in_their_arguments_environment_or_statements(
        commands: list[Run], local_settings: Settings, passwords: dict[str, str]) -> None:
    found = needles(passwords)
    directory = state.state_dir(local_settings.local_state_dir)
    for name in ("moto", "postgres"):
        rec = state.read(directory, name)
        assert rec is not None and rec.running, name
        for part in ("cmdline", "environ"):
            assert leaks(Path(f"/proc/{rec.pid}/{part}").read_bytes(), found) == [], (name, part)
    cluster = Cluster(directory / "postgres", parse_endpoint(local_settings.db_endpoint)[1])
    with cluster.superuser_connect(local_settings.db_name) as conn:
        texts = [r[0] for r in conn.execute("SELECT query FROM public.pg_stat_statements").fetchall()]
        verifiers = dict(conn.execute("SELECT rolname, rolpassword FROM pg_authid WHERE rolpassword IS NOT NULL")
                         .fetchall())
    assert any("PASSWORD" in t.upper() for t in texts)  # the ALTER ROLEs are there ...
    assert leaks("\n".join(texts).encode(), found) == []  # ... with verifiers, not passwords
    assert {local_settings.master_username, local_settings.app_role, local_settings.migrator_role} <= set(verifiers)
    assert all(v.startswith("SCRAM-SHA-256$4096:") for v in verifiers.values())
