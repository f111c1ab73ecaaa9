"""Story 0.4's own verification methods for AC7, AC8 and AC10, run with the real psql client
exactly as docs/runbook.md ("The story's verification methods") prints them, against the
session's local environment (tests/fixtures_local.py), after ``eval "$(tenantdb local env)"``.

The block is read from the runbook, so the documented commands are the tested ones. Then
the story's AC10 statement as printed: as app_user in schema public it is refused (by
design: nobody but the owner creates in public), as the master it succeeds.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tenantdb import settings as settings_mod

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RUNBOOK = ROOT / "docs" / "runbook.md"
MARKER = "# story: AC7, AC8, AC10 with psql"


def runbook_block(marker: str) -> str:
    """The ```sh block of docs/runbook.md whose first line is ``marker``."""
    blocks = re.findall(r"```sh\n(.*?)```", RUNBOOK.read_text(), flags=re.S)
    found = [b for b in blocks if b.startswith(marker + "\n")]
    assert len(found) == 1, f"docs/runbook.md: expected one block starting {marker!r}"
    return found[0]


def run_bash(overlay: Path, script: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``eval "$(tenantdb local env)"`` then ``script``, in a shell holding nothing else of ours."""
    env_cmd = shlex.join([sys.executable, "-m", "tenantdb.cli", "--settings", str(overlay), "local", "env"])
    text = f'set -euo pipefail\nexports=$({env_cmd})\neval "$exports"\n{script}'
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_", "TENANTDB_"))}
    env.update(extra_env or {})
    return subprocess.run(["bash", "-c", text], capture_output=True, text=True, timeout=300, check=False,
                          cwd=ROOT, env=env)


@pytest.fixture(scope="module")
def local_up(local_cold_up, local_overlay: Path) -> Path:
    assert '"stage": "verify"' in local_cold_up.stdout, local_cold_up.stderr[-3000:]
    return local_overlay


def test_the_runbooks_psql_block_proves_ac7_ac8_ac10(local_up: Path) -> None:
    s = settings_mod.load("local", local_up)
    run = run_bash(local_up, runbook_block(MARKER))
    assert run.returncode == 0, run.stdout + run.stderr
    out = run.stdout.splitlines()
    # AC7: `\l` lists the master database.
    assert any(line.split("|")[0].strip() == s.db_name for line in out), run.stdout
    # AC8: rolsuper, rolbypassrls = f, f (unaligned output: "f|f").
    assert "f|f" in out, run.stdout
    # AC10: every statement ran, as app_user, and the transaction was rolled back.
    for tag in ("BEGIN", "CREATE SCHEMA", "SET", "CREATE TABLE", "ALTER TABLE", "ROLLBACK"):
        assert tag in out, (tag, run.stdout)
    gone = run_bash(local_up, "psql -X -At -c \"SELECT count(*) FROM pg_namespace WHERE nspname = 'ac10_story'\"")
    assert gone.stdout.strip() == "0", gone.stdout + gone.stderr


def test_the_psql_block_ran_as_app_user_over_verified_tls(local_up: Path) -> None:
    s = settings_mod.load("local", local_up)
    run = run_bash(local_up, "psql -X -At -c 'SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()'"
                             " && echo \"$PGSSLMODE\"")
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [f"{s.app_role}|t", "verify-full"]


def test_the_storys_ac10_statement_in_public_is_refused_to_app_user(local_up: Path) -> None:
    """As printed in the story, without a schema of its own: by design app_user may not create in public."""
    run = run_bash(local_up, "psql -X -v ON_ERROR_STOP=1 -c 'CREATE TABLE test_table (id int, tenant_id uuid)'")
    assert run.returncode != 0
    assert "permission denied for schema public" in run.stderr, run.stderr


def test_the_storys_ac10_statement_runs_as_written_for_the_master(local_up: Path) -> None:
    from tenantdb.aws import Aws

    s = settings_mod.load("local", local_up)
    aws = Aws(s)
    user, password = aws.master_credentials(aws.instance())
    sql = re.search(r"<<'SQL'\n(BEGIN;\nCREATE TABLE test_table.*?ROLLBACK;\n)SQL", RUNBOOK.read_text(), re.S)
    assert sql, "docs/runbook.md: the master's AC10 block"
    # The master's login replaces app_user's after the eval (from the environment, never argv).
    run = run_bash(local_up, 'export PGUSER="$MASTER_USER" PGPASSWORD="$MASTER_PASSWORD"\n'
                             f"psql -X -v ON_ERROR_STOP=1 <<'SQL'\n{sql[1]}SQL\n",
                   {"MASTER_USER": user, "MASTER_PASSWORD": password})
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["BEGIN", "CREATE", "TABLE", "ALTER", "TABLE", "ROLLBACK"]
