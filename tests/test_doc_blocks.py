"""The documentation's blocks, run as printed against the session's local environment.

Every fenced block a user would copy (``sh``/``bash``/``shell``, ``sql``, ``ini``, ``python``) in
README.md, docs/runbook.md, docs/connecting.md, docs/tenant-context.md and docs/migrations.md is
found by parsing the markdown, so a new block is covered the day it is written. Each one either

- is marked, on the line just above it, visibly: ``*Not run here: REASON.*`` (a real AWS
  account, the VPC, signed mode, ...), or
- runs here: a shell block by default; any other block names how, in an HTML comment on the
  line above it, ``<!-- doc-test: NAME -->``, one of :data:`RUNNERS`. A block of a covered
  language with neither fails :func:`test_every_block_is_run_or_marked`.

How they run. The shell is the user's after ``eval "$(tenantdb local env)"`` in the project's
venv (``.venv/bin`` first on PATH, ``$TENANTDB_SETTINGS`` naming the session's overlay, as a user
with an overlay has it), from the project root, each block its own ``bash -euo pipefail`` (every
command must succeed). The local environment is tests/fixtures_local.py's one `local up`; nothing
here starts another cluster. The blocks run in few processes: one bash per shell block (the
exports are evaluated once), one psql for every master SQL block, one for app_user's.

Placeholders: only those the docs tell the user to fill in are substituted (:data:`SUBSTITUTE`
and the runners' docstrings):

- ``--env ENV`` -> ``--env local`` (runbook: "`ENV` is the environment"; migrations: "`ENV` your
  environment (`local` after `tenantdb local up`)");
- ``USER@HOST:PORT`` in the master DSN (runbook: "`USER`, `HOST`, `PORT` and `ENV` are yours"),
  and ``$MASTER_PASSWORD`` set to the master's password ("holds the master's password");
- ``4242``, the pid a lock message names (runbook), -> the pid of a session that is open;
- ``<max(id) + 1>`` (migrations) -> the table's highest id plus one;
- ``$1`` (tenant-context: "$1 = '<tenant id>'") -> a sample tenant's id, bound as a parameter;
- ``secret_string`` and ``tenant_id`` (tenant-context's KeyRing) -> a key ring in the documented
  format and a sample tenant's id;
- PgBouncer's ``HOST``, ``5432``, ``0.0.0.0``, ``6432`` and its four files (connecting: "Yours to
  fill in") -> the local cluster, a free loopback port, and files made here.
"""

from __future__ import annotations

import ast
import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tenantdb import settings as settings_mod

pytestmark = pytest.mark.slow  # the session's local environment (tests/fixtures_local.py)

ROOT = Path(__file__).resolve().parents[1]
DOCS = ("README.md", "docs/runbook.md", "docs/connecting.md", "docs/tenant-context.md", "docs/migrations.md")
LANGUAGES = {"sh": "sh", "bash": "sh", "shell": "sh", "sql": "sql", "ini": "ini", "python": "python",
             "py": "python"}
"""The blocks a user copies and runs; others (json, toml, js, output without a language) are not commands."""
NOT_RUN = re.compile(r"^\*Not run here: (?P<why>.+)\.\*$")
DIRECTIVE = re.compile(r"^<!-- doc-test: (?P<name>[a-z0-9-]+) -->$")
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[A-Za-z0-9_+-]*)\s*$")

SUBSTITUTE = {"--env ENV": "--env local"}
"""Shell placeholders the docs name, for every shell block (the master DSN's are the fixture's)."""


@dataclass(frozen=True)
class Block:
    doc: str
    line: int
    lang: str
    text: str
    how: str | None
    """The runner's name (``shell`` for a shell block without a directive), or None when marked."""
    why: str | None

    def __str__(self) -> str:
        return f"{self.doc}:{self.line} ({self.lang})"


def parse(doc: str) -> list[Block]:
    """The fenced blocks of ``doc`` in a covered language, each with its marker or runner."""
    lines = (ROOT / doc).read_text().splitlines()
    out, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, close = m["indent"], m["indent"] + "```"
        end = next(j for j in range(i + 1, len(lines)) if lines[j].rstrip() == close)
        body = "\n".join(line[len(indent):] if line.startswith(indent) else line.lstrip()
                         for line in lines[i + 1:end]) + "\n"
        lang = LANGUAGES.get(m["lang"].lower())
        if lang:
            above = next((lines[j].strip() for j in range(i - 1, -1, -1) if lines[j].strip()), "")
            marked, directive = NOT_RUN.match(above), DIRECTIVE.match(above)
            how = None if marked else (directive["name"] if directive else ("shell" if lang == "sh" else ""))
            out.append(Block(doc, i + 1, lang, body, how, marked["why"] if marked else None))
        i = end + 1
    return out


def all_blocks() -> list[Block]:
    return [b for doc in DOCS for b in parse(doc)]


def runnable(how: str) -> list[Block]:
    return [b for b in all_blocks() if b.how == how]


RUNNERS = {
    "shell": "sh", "master-sql": "sql", "serial-notes": "sql", "set-tenant-sql": "sql",
    "migration-context-sql": "sql", "pgbouncer-auth-sql": "sql", "pgbouncer-ini": "ini",
    "keyring-python": "python", "sample-env-py": "python",
}
"""Each runner and the language it runs; the tests below are the runners."""


def test_every_block_is_run_or_marked() -> None:
    """A block of a covered language runs here or says, visibly, why not; no other way out."""
    problems = []
    for b in all_blocks():
        if b.how is None:
            continue
        if b.how == "":
            problems.append(f"{b}: run it (a `<!-- doc-test: NAME -->` line above it, NAME one of "
                            f"{', '.join(sorted(RUNNERS))}) or mark it `*Not run here: REASON.*`")
        elif RUNNERS.get(b.how) != b.lang:
            problems.append(f"{b}: doc-test {b.how!r} does not run {b.lang} blocks")
    assert not problems, "\n".join(problems)
    assert all(runnable(name) for name in RUNNERS), [n for n in RUNNERS if not runnable(n)]


# ----- the environment ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Env:
    s: settings_mod.Settings
    shell: dict[str, str]
    """The user's environment after ``eval "$(tenantdb local env)"``."""
    master: tuple[str, str]
    tenants: dict[str, str]
    """Sample tenants: slug -> id."""


def _base_env(overlay: Path) -> dict[str, str]:
    drop = ("PG", "AWS_", "TENANTDB_", "TF_", "CDKTF_", "DATABASE_URL", "CHECKPOINT_DISABLE", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    venv = Path(sys.executable).parent
    # The AWS CLI the blocks call is the project's pinned v1 (scripts/setup), never whatever is on PATH.
    awscli = ROOT / ".tools" / "awscli" / "bin"
    assert (awscli / "aws").exists(), f"no AWS CLI at {awscli}: run scripts/setup"
    path = os.pathsep.join([str(venv), str(awscli), env.get("PATH", "")])
    return {**env, "PATH": path, "VIRTUAL_ENV": str(venv.parent),
            "TENANTDB_SETTINGS": str(overlay)}


@pytest.fixture(scope="module")
def env(local_cold_up, local_overlay: Path) -> Env:
    from tenantdb.aws import Aws

    assert '"stage": "verify"' in local_cold_up.stdout, local_cold_up.stderr[-3000:]
    proc = subprocess.run(["bash", "-c", 'set -euo pipefail; eval "$(tenantdb local env)"; env -0'],
                          capture_output=True, text=True, env=_base_env(local_overlay), cwd=ROOT, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shell = dict(item.split("=", 1) for item in proc.stdout.split("\0") if "=" in item)
    s = settings_mod.load("local", local_overlay)
    aws = Aws(s)
    master = aws.master_credentials(aws.instance())
    with _connect(shell, *master) as conn:
        rows = conn.execute(sql.SQL("SELECT slug, tenant_id::text FROM {}").format(
            sql.Identifier(s.tenancy_schema, "tenants"))).fetchall()
    return Env(s, shell, master, dict(rows))


def _connect(shell: dict[str, str], user: str, password: str) -> psycopg.Connection:
    return psycopg.connect(host=shell["PGHOST"], port=shell["PGPORT"], dbname=shell["PGDATABASE"], user=user,
                           password=password, sslmode="verify-full", sslrootcert=shell["PGSSLROOTCERT"],
                           connect_timeout=10)


def _psql(env: Env, script: str, *, as_master: bool, variables: dict[str, str] | None = None
          ) -> subprocess.CompletedProcess[str]:
    shell = {**env.shell, **({"PGUSER": env.master[0], "PGPASSWORD": env.master[1]} if as_master else {})}
    args = ["psql", "-X", "-At", "-v", "ON_ERROR_STOP=1"]
    for k, v in (variables or {}).items():
        args += ["-v", f"{k}={v}"]
    return subprocess.run(args, input=script, capture_output=True, text=True, env=shell, timeout=120, check=False)


# ----- shell ------------------------------------------------------------------------------------------

def test_the_shell_blocks_run_as_printed(env: Env, tmp_path: Path) -> None:
    """Each shell block in its own ``bash -euo pipefail``, in the user's shell after the eval."""
    shell = {**env.shell, "MASTER_PASSWORD": env.master[1]}
    subs = {**SUBSTITUTE, "USER@HOST:PORT": f"{env.master[0]}@{shell['PGHOST']}:{shell['PGPORT']}"}
    failed, timings = [], []
    for n, b in enumerate(runnable("shell")):
        text = b.text
        for old, new in subs.items():
            text = text.replace(old, new)
        script = tmp_path / f"block{n}.sh"
        script.write_text(text)
        started = time.monotonic()
        run = subprocess.run(["bash", "-euo", "pipefail", str(script)], capture_output=True, text=True, env=shell,
                             cwd=ROOT, timeout=900, check=False)
        timings.append(f"{b}: {time.monotonic() - started:.1f} s")
        if run.returncode != 0 or "Traceback" in run.stderr:
            failed.append(f"{b} exit {run.returncode}:\n{text}\n--- stdout\n{run.stdout[-1500:]}\n--- stderr\n"
                          f"{run.stderr[-1500:]}")
    print("\n".join(timings), file=sys.stderr)
    assert not failed, "\n\n".join(failed)


# ----- SQL --------------------------------------------------------------------------------------------

def test_the_masters_sql_blocks_run_as_printed(env: Env) -> None:
    """master-sql as printed (4242: an open session's pid); serial-notes on a serial ``notes`` table in a
    scratch schema, in a transaction rolled back, with ``<max(id) + 1>`` its highest id plus one."""
    parts = []
    with _connect(env.shell, env.s.app_role, env.shell["PGPASSWORD"]) as holder:
        pid = str(holder.info.backend_pid)
        for n, b in enumerate(runnable("master-sql")):
            parts.append(f"\\echo block {n} {b}\n{b.text.replace('4242', pid)}")
        for n, b in enumerate(runnable("serial-notes")):
            parts.append(f"\\echo serial {n} {b}\nBEGIN;\nCREATE SCHEMA doc_serial_notes;\n"  # noqa: S608 - a psql script of the doc's SQL
                         "SET LOCAL search_path = doc_serial_notes;\n"
                         "CREATE TABLE notes (id serial PRIMARY KEY, body text);\n"
                         "INSERT INTO notes (body) VALUES ('a'), ('b');\n"
                         f"{b.text.replace('<max(id) + 1>', '3')}"
                         "INSERT INTO notes (body) VALUES ('c');\n"
                         "\\echo ids\nSELECT string_agg(id::text, ',' ORDER BY id) FROM notes;\n"
                         "SELECT pg_catalog.pg_get_expr(adbin, adrelid) LIKE '%nextval(%' FROM pg_attrdef "
                         "WHERE adrelid = 'notes'::regclass;\n"
                         "ROLLBACK;")
        run = _psql(env, "\n".join(parts) + "\n", as_master=True)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert f"{pid}|{env.s.app_role}|" in out, out  # the holder, found by its pid
    # Every identity conversion: the ids continue after the highest, and no nextval() default is left.
    assert out.count("ids\n1,2,3\n") == len(runnable("serial-notes")), out


def test_set_tenant_as_printed_sets_app_users_tenant(env: Env) -> None:
    """tenant-context.md's plain-mode call, as app_user, with $1 bound to a sample tenant's id."""
    (block,) = runnable("set-tenant-sql")
    slug, tenant = next(iter(env.tenants.items()))
    script = (f"BEGIN;\nPREPARE doc_set_tenant(text) AS {block.text}EXECUTE doc_set_tenant(:'tenant');\n"
              f"SELECT tenancy.current_tenant_id(), count(*) FROM tenant_{slug}.projects;\nROLLBACK;\n")
    run = _psql(env, script, as_master=False, variables={"tenant": tenant})
    assert run.returncode == 0, run.stderr
    assert f"{tenant}|1" in run.stdout.splitlines(), run.stdout


def test_migration_context_as_printed_gives_the_migrator_its_tenant(env: Env) -> None:
    """tenant-context.md's worker statement, as app_migrator, with the parameters it names."""
    from tenantdb.aws import Aws

    (block,) = runnable("migration-context-sql")
    password = Aws(env.s).secret_json(env.s.migrator_secret_name)["password"]
    tenant = next(iter(env.tenants.values()))
    with _connect(env.shell, env.s.migrator_role, password) as conn:
        assert conn.execute(block.text, {"tenant_setting": env.s.tenant_setting,
                                         "tenant_id": tenant}).fetchone() == (True,)
        assert conn.execute("SELECT tenancy.current_tenant_id()::text").fetchone() == (tenant,)
        conn.rollback()


# ----- PgBouncer --------------------------------------------------------------------------------------

PGBOUNCER_FILES = {"/etc/pgbouncer/userlist.txt": "userlist.txt", "/etc/pgbouncer/pgbouncer.crt": "bouncer.crt",
                   "/etc/pgbouncer/pgbouncer.key": "bouncer.key"}


def test_pgbouncer_as_printed_starts_and_pins_search_path(env: Env) -> None:
    """connecting.md's SQL (as the cluster's superuser) and pgbouncer.ini, with what it says to fill in;
    then app_user logs in through it, sending the secret's options, and finds search_path pinned."""
    from tenantdb.aws import Aws
    from tenantdb.local.pipeline import POSTGRES
    from tenantdb.local.postgres import Cluster
    from tenantdb.local.state import state_dir
    from tests.test_connecting import PGBOUNCER, _as_postgres, _listening, _own, _tls_pair

    from tenantdb.local.emulator import free_port

    (auth_sql,), (ini,) = runnable("pgbouncer-auth-sql"), runnable("pgbouncer-ini")
    s, shell = env.s, env.shell
    cluster = Cluster(state_dir(s.local_state_dir) / POSTGRES, int(shell["PGPORT"]), host=shell["PGHOST"])
    base = Path(tempfile.mkdtemp(prefix="tenantdb-doc-pgbouncer-", dir="/tmp"))
    os.chmod(base, 0o700)
    _own(base)
    port, auth_password = free_port(), secrets.token_urlsafe(24)
    _tls_pair(base)
    (base / "userlist.txt").write_text(f'"pgbouncer_auth" "{auth_password}"\n')  # plain text, as the doc says
    text = ini.text
    fill = {"host=HOST port=5432": f"host={shell['PGHOST']} port={shell['PGPORT']}",
            "listen_addr = 0.0.0.0": "listen_addr = 127.0.0.1", "listen_port = 6432": f"listen_port = {port}",
            "/etc/ssl/rds-global-bundle.pem": shell["PGSSLROOTCERT"],
            **{doc: str(base / mine) for doc, mine in PGBOUNCER_FILES.items()}}
    for old, new in fill.items():  # what the doc no longer names is not filled in: PgBouncer then says why
        text = text.replace(old, new)
    (base / "pgbouncer.ini").write_text(text)
    for path in base.iterdir():
        os.chmod(path, 0o600)
        _own(path)
    with cluster.superuser_connect(s.db_name) as conn:
        conn.execute(auth_sql.text)
        conn.execute(sql.SQL("ALTER ROLE pgbouncer_auth PASSWORD {}").format(sql.Literal(auth_password)))
    proc = subprocess.Popen(_as_postgres([PGBOUNCER, str(base / "pgbouncer.ini")]), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not _listening(port):
            assert proc.poll() is None, f"pgbouncer did not start: {proc.communicate()[1][-2000:]}"
            assert time.monotonic() < deadline, "pgbouncer did not listen"
            time.sleep(0.2)
        secret = Aws(s).secret_json(s.connection_secret_name)
        with psycopg.connect(host="127.0.0.1", port=port, dbname=s.db_name, user=s.app_role,
                             password=secret["password"], sslmode="require", options=secret["options"],
                             prepare_threshold=None, connect_timeout=10, autocommit=True) as conn:
            for _ in range(2):  # a second transaction, after the reset query
                path = conn.execute("SHOW search_path").fetchone()
                assert path is not None and path[0].replace(" ", "") == "public,pg_temp", path
                assert conn.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(base, ignore_errors=True)  # its auth_file held pgbouncer_auth's password
        with cluster.superuser_connect(s.db_name) as conn:
            conn.execute("DROP SCHEMA IF EXISTS pgbouncer CASCADE")
            conn.execute("DROP ROLE IF EXISTS pgbouncer_auth")


# ----- Python -----------------------------------------------------------------------------------------

def test_the_keyring_block_mints_a_token_in_the_documented_format(env: Env) -> None:
    """tenant-context.md's KeyRing lines with ``secret_string`` a ring in the documented format."""
    (block,) = runnable("keyring-python")
    key = secrets.token_hex(32)
    ring = {"format": "tenantdb.context-key.v1",
            "keys": [{"kid": "3f9c2a1b", "key": key, "created_at": int(time.time()), "retires_at": None}]}
    tenant = next(iter(env.tenants.values()))
    scope: dict[str, object] = {"secret_string": json.dumps(ring), "tenant_id": tenant}
    exec(compile(block.text, str(block), "exec"), scope)  # the doc's own lines, as printed
    token = str(scope["token"])
    version, kid, who, exp, mac = token.split(".")
    assert (version, kid, who) == ("v1", "3f9c2a1b", tenant)
    assert 0 < int(exp) - time.time() <= 300
    assert hmac.compare_digest(mac, hmac.new(bytes.fromhex(key), token.rsplit(".", 1)[0].encode(),
                                             hashlib.sha256).hexdigest())


def test_the_env_py_block_runs_as_a_script_directorys_env_py(env: Env, tmp_path: Path) -> None:
    """migrations.md's env.py, as the sample set's env.py, in Alembic's offline mode (what --sql runs)."""
    import io

    from tenantdb.database.migrate import scripts

    (block,) = runnable("sample-env-py")
    ast.parse(block.text)
    directory = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations" / "tenant", directory, ignore=shutil.ignore_patterns("__pycache__"))
    (directory / "env.py").write_text(block.text)
    slug, tenant = next(iter(env.tenants.items()))
    loaded = scripts.load(directory)
    out = io.StringIO()
    scripts.upgrade(loaded, scripts.config(directory, f"tenant_{slug}", tenant, slug, None), as_sql=True,
                    output=out)
    assert f"CREATE TABLE tenant_{slug}.alembic_version" in out.getvalue(), out.getvalue()[:2000]
    assert "CREATE TABLE users" in out.getvalue()
