"""Load: on the session's local environment, pgbench logs in as app_user with the
connection secret's password (TLS), 150 clients at once (the story sizes max_connections=200
for 100+ pods), each transaction setting the tenant context with tenancy.set_tenant($1) and reading and
writing a sample tenant's isolated table. It must end with no error, every row written must
land in its own tenant's table with its own tenant id, and `tenantdb verify` run while the
load is on must still pass. The figures go to stderr and test-artifacts/load.json
(docs/performance.md, "Load", records a run).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from psycopg import sql

from tenantdb.database.tenancy import slugs
from tenantdb.database.tenancy import tenants
from tenantdb.aws import Aws
from tenantdb.database.plumbing.master import parse_endpoint
from tenantdb.local import state
from tenantdb.local.postgres import Cluster, bindir
from tenantdb.settings import Settings
from tests.fixtures_local import LocalCli, Run

pytestmark = pytest.mark.slow

CLIENTS = 150
THREADS = 2
SECONDS = 30
LOAD_ROW = "pgbench load"
PROJECT_ROOT = Path(__file__).resolve().parents[1]


def tenant_script(s: Settings, me: dict, other: dict) -> str:
    """One transaction as one pod makes it: the tenant context set for this transaction only, through
    tenancy.set_tenant with the id as a bound parameter (pgbench -M extended binds :variables, so the
    id is never in statement text), then a read, a write, and a look at another tenant's table that
    must see nothing (else 1/0 fails)."""
    mine = sql.Identifier(slugs.schema_name(s, me["slug"]), tenants.SAMPLE_TABLE).as_string(None)
    theirs = sql.Identifier(slugs.schema_name(s, other["slug"]), tenants.SAMPLE_TABLE).as_string(None)
    tenant = f":{variable(me)}"
    return "\n".join([
        "BEGIN;",
        f"SELECT {sql.Identifier(s.tenancy_schema).as_string(None)}.set_tenant({tenant});",
        f"SELECT count(*) FROM {mine};",  # noqa: S608 - a pgbench script file; every name in it was quoted by sql.Identifier
        f"INSERT INTO {mine} (tenant_id, name) VALUES ({tenant}::uuid, {sql.Literal(LOAD_ROW).as_string(None)});",  # noqa: S608 - a pgbench script file; names and value quoted by psycopg.sql
        f"SELECT 1 / (count(*) = 0)::int FROM {theirs};",  # noqa: S608 - a pgbench script file; the name was quoted by sql.Identifier
        "END;",
        "",
    ])


def variable(tenant: dict) -> str:
    """The pgbench variable holding a tenant's id (given with -D, bound by -M extended)."""
    return f"tenant_{tenant['slug']}"


def figure(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    assert found, (pattern, text[-3000:])
    return float(found.group(1))


@pytest.fixture(scope="module")
def cluster(local_cold_up: Run, local_settings: Settings) -> Cluster:
    assert local_cold_up.returncode == 0, local_cold_up.stderr[-3000:]
    directory = state.state_dir(local_settings.local_state_dir)
    return Cluster(directory / "postgres", parse_endpoint(local_settings.db_endpoint)[1])


def pgbench_clients(cluster: Cluster) -> int:
    """pgbench's sessions the server sees, over TLS."""
    with cluster.superuser_connect() as conn:
        return conn.execute("SELECT count(*) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) "
                            "WHERE a.application_name = 'pgbench' AND s.ssl").fetchone()[0]


def test_150_app_user_clients_with_tenant_context_and_verify_under_load(
        local_cli: LocalCli, local_settings: Settings, cluster: Cluster, tmp_path: Path) -> None:
    s = local_settings
    listed = local_cli("tenant", "list", "--env", "local", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    samples = [t for t in json.loads(listed.stdout) if t["slug"] in s.sample_tenants]
    assert len(samples) == 2, samples
    scripts = []
    for me, other in ((samples[0], samples[1]), (samples[1], samples[0])):
        path = tmp_path / f"{me['slug']}.sql"
        path.write_text(tenant_script(s, me, other))
        scripts += ["-f", f"{path}@1"]

    secret = Aws(s).secret_json(s.connection_secret_name)
    host, port = parse_endpoint(s.db_endpoint)
    # The password goes through the environment, never the command line (ps shows that to everyone).
    env = {**os.environ, "PGPASSWORD": secret["password"], "PGSSLMODE": "require", "PGAPPNAME": "pgbench"}
    ids = [arg for t in samples for arg in ("-D", f"{variable(t)}={t['tenant_id']}")]
    cmd = [str(bindir() / "pgbench"), "-n", "-M", "extended", "-c", str(CLIENTS), "-j", str(THREADS),
           "-T", str(SECONDS), *ids, *scripts, "-h", host, "-p", str(port), "-U", secret["username"], secret["dbname"]]
    bench = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while pgbench_clients(cluster) < CLIENTS:
            assert bench.poll() is None, bench.communicate()
            assert time.monotonic() < deadline, f"only {pgbench_clients(cluster)} of {CLIENTS} clients connected"
            time.sleep(0.2)
        verify = local_cli("verify", "--env", "local", "--format", "json")
        load_on = bench.poll() is None
        out, err = bench.communicate(timeout=SECONDS + 120)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.communicate()
    try:
        assert bench.returncode == 0, err[-3000:]
        assert load_on, "pgbench ended before verify did: verify did not run under load"
        checks = json.loads(verify.stdout)["checks"]
        assert verify.returncode == 0, [(c["id"], c["detail"]) for c in checks if c["status"] != "PASS"]
        assert [c["id"] for c in checks if c["status"] not in ("PASS", "SKIP")] == []
        assert {f"AC{i}" for i in range(1, 11)} <= {c["id"] for c in checks if c["status"] == "PASS"}

        processed = int(figure(r"number of transactions actually processed: (\d+)", out))
        failed = int(figure(r"number of failed transactions: (\d+)", out))
        assert failed == 0 and processed > 0 and "aborted" not in out + err
        assert f"number of clients: {CLIENTS}" in out
        # Every transaction wrote one row, in its own tenant's table, with its own tenant id.
        written = 0
        with cluster.superuser_connect(s.db_name) as conn:
            for t in samples:
                table = sql.Identifier(slugs.schema_name(s, t["slug"]), tenants.SAMPLE_TABLE)
                rows = dict(conn.execute(sql.SQL("SELECT tenant_id::text = %s, count(*) FROM {} WHERE name = %s "
                                                 "GROUP BY 1").format(table), (t["tenant_id"], LOAD_ROW)).fetchall())
                assert set(rows) <= {True}, (t["slug"], rows)
                written += rows.get(True, 0)
        assert written == processed
    finally:
        with cluster.superuser_connect(s.db_name) as conn:  # leave the shared environment as it was
            for t in samples:
                table = sql.Identifier(slugs.schema_name(s, t["slug"]), tenants.SAMPLE_TABLE)
                conn.execute(sql.SQL("DELETE FROM {} WHERE name = %s").format(table), (LOAD_ROW,))

    figures = {
        "clients": CLIENTS, "threads": THREADS, "seconds": SECONDS, "transactions": processed, "failed": failed,
        "tps": figure(r"tps = ([\d.]+) \(without initial connection time\)", out),
        "latency_ms": figure(r"latency average = ([\d.]+) ms", out),
        "initial_connection_ms": figure(r"initial connection time = ([\d.]+) ms", out),
        "verify_under_load_s": round(verify.seconds, 1),
        "verify_checks_passed": sum(c["status"] == "PASS" for c in checks),
        "max_connections": s.db_parameters["max_connections"][0],
    }
    print(f"\nload: {json.dumps(figures)}", file=sys.stderr)
    artifacts = PROJECT_ROOT / "test-artifacts"
    if artifacts.is_dir():
        (artifacts / "load.json").write_text(json.dumps(figures, indent=2) + "\n")
