"""The toolkit's own sessions never wait without limit, its mutual exclusion uses a lock only it
can take, and a session that waits names who is in its way. Attacks are app_user's own login
over TLS (the threat model), never SET ROLE from a superuser."""

from __future__ import annotations

import re
import secrets
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tenantdb import verify
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import locks
from tenantdb.database.plumbing.master import ADMIN_DB, resolve_master
from tenantdb.errors import ToolkitError
from tenantdb.report import Status
from tenantdb.verify.context import Context
from tests.fixtures_pg import connect_as
from tests.test_bootstrap import block_the_tenancy_step
from tests.test_isolation import login
from tests.test_posture import iso_settings, two_tenants  # noqa: F401 - fixtures

OLD_ADVISORY_KEY = 0x74656E616E746462
"""The advisory key the bootstrap used to serialize on ("tenantdb" in ASCII): public, so app_user could hold it."""
TENANTDB = Path(__file__).resolve().parents[1] / "tenantdb"


# ----- every toolkit session starts under the timeouts --------------------------------------

def session_facts(conn: psycopg.Connection) -> dict[str, tuple[str, str]]:
    rows = conn.execute("SELECT name, setting, source FROM pg_settings "
                        "WHERE name IN ('lock_timeout', 'statement_timeout', 'search_path')").fetchall()
    return {name: (setting, source) for name, setting, source in rows}


def test_every_toolkit_session_starts_under_the_timeouts(pg_cluster, pg_master, pg_settings):
    """From the startup packet (source "client"), so they hold from the first statement, whatever
    app_user or a role or database setting says."""
    target = resolve_master(pg_settings, master_dsn=pg_master.dsn()).target
    with db.connect(target, pg_settings, autocommit=True) as conn:
        assert session_facts(conn) == {"lock_timeout": ("10000", "client"), "statement_timeout": ("600000", "client"),
                                       "search_path": ("pg_catalog,pg_temp", "client")}
    ctx = Context(pg_settings, master_dsn=pg_master.dsn())  # verify's sessions: a shorter lock_timeout
    try:
        assert session_facts(ctx.open("master", target))["lock_timeout"] == ("1000", "client")
    finally:
        ctx.close()
    with pg_cluster.superuser_connect() as conn:  # the local stand-in's superuser, the same
        assert session_facts(conn) == {"lock_timeout": ("10000", "client"), "statement_timeout": ("600000", "client"),
                                       "search_path": ("pg_catalog,pg_temp", "client")}


def test_every_toolkit_connection_goes_through_connect():
    """psycopg.connect is called in three places only: connect() itself, the stand-in's superuser (its
    conninfo carries the same options) and the plaintext attempt the TLS check expects refused (likewise)."""
    calls = {str(p.relative_to(TENANTDB)) for p in TENANTDB.rglob("*.py")
             if re.search(r"psycopg\.(Connection\.)?connect\(", p.read_text())}
    assert calls == {"database/plumbing/connection.py", "local/postgres.py", "verify/db_checks.py"}


# ----- the bootstrap's lock: only the master may take it -------------------------------------

@pytest.fixture
def bootstrapped_app(pg_fresh, pg_cluster, pg_master, pg_super, pg_settings):
    """Bootstrapped; app_user's own login over TLS (its password set for the test), autocommit."""
    bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
    conn = login(pg_cluster, pg_super, pg_settings, pg_settings.app_role)
    conn.autocommit = True
    try:
        yield conn
    finally:
        conn.close()


def run_in_thread(fn, timeout: float) -> dict[str, object]:
    """``fn()`` in a daemon thread; {"result"|"error": ...}, or {} if it still ran after ``timeout``."""
    out: dict[str, object] = {}

    def go() -> None:
        try:
            out["result"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            out["error"] = exc

    worker = threading.Thread(target=go, daemon=True)
    worker.start()
    worker.join(timeout)
    return out


def test_app_user_holding_the_old_advisory_key_holds_up_no_bootstrap(bootstrapped_app, pg_cluster, pg_super,
                                                                    pg_master, pg_settings):
    """app_user's idle sessions hold the key the bootstrap used to wait for, on the admin database (where
    the bootstrap took it: PUBLIC may connect there) and on db_name: the bootstrap runs at once."""
    password = secrets.token_urlsafe(24)
    pg_super.execute(f"ALTER ROLE app_user PASSWORD '{password}'")
    with connect_as(pg_cluster, "app_user", password, ADMIN_DB) as on_admin, \
            connect_as(pg_cluster, "app_user", password, pg_settings.db_name) as on_db:
        for conn in (on_admin, on_db):
            conn.execute("SELECT pg_advisory_lock(%s)", (OLD_ADVISORY_KEY,))
        started = time.monotonic()
        out = run_in_thread(lambda: bootstrap.run(pg_settings, master_dsn=pg_master.dsn()), timeout=60)
        assert "result" in out, out or "the bootstrap still waited after 60 s"
        assert out["result"].changed == 0 and time.monotonic() - started < 30


@pytest.mark.parametrize("mode", ["ACCESS SHARE", "ROW EXCLUSIVE", "EXCLUSIVE", "ACCESS EXCLUSIVE"])
def test_app_user_cannot_take_the_bootstrap_lock(bootstrapped_app, mode):
    conn = bootstrapped_app
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        with conn.transaction():
            conn.execute(f"LOCK TABLE tenancy.bootstrap_lock IN {mode} MODE")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):  # nor make a table of that name first
        conn.execute("CREATE TABLE tenancy.bootstrap_lock_2 ()")


def test_a_lock_table_app_user_could_take_is_refused(bootstrapped_app, pg_master, pg_super, pg_settings):
    """Handed to app_user (a grant, as a careless DBA might): the bootstrap refuses in one line, naming it."""
    pg_super.execute("GRANT UPDATE ON tenancy.bootstrap_lock TO app_user", dbname=pg_settings.db_name)
    with pytest.raises(ToolkitError) as err:
        bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
    msg = str(err.value)
    assert msg.startswith("step lock failed: app_user could hold the bootstrap's lock") and "\n" not in msg, msg


def test_a_bootstrap_held_up_names_the_holder_and_gives_up(bootstrapped_app, pg_master, pg_settings, capsys):
    """Another session holds the lock past bootstrap_wait_s: one line naming its role and pid."""
    s = pg_settings.replaced(bootstrap_wait_s=1.5)
    with psycopg.connect(pg_master.dsn(s.db_name), application_name="stuck") as holder:
        holder.execute("LOCK TABLE tenancy.bootstrap_lock IN EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(ToolkitError) as err:
            bootstrap.run(s, master_dsn=pg_master.dsn())
        assert time.monotonic() - started < 15
        pid = holder.info.backend_pid
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith("another session held the bootstrap's lock tenancy.bootstrap_lock "
                                              "for more than 1.5 s; held by role qualisys_admin (pid "), msg
    assert f"(pid {pid}, ExclusiveLock on tenancy.bootstrap_lock, stuck, open " in msg and "nothing was changed" in msg
    assert f"bootstrap: waiting for a lock held by role qualisys_admin (pid {pid}," in capsys.readouterr().err


def test_a_bootstrap_step_held_up_by_a_lock_names_the_holder(pg_fresh, pg_cluster, pg_master, pg_settings):
    """A step of the batch waits for someone's lock: after toolkit_lock_timeout_s, one line naming the holder."""
    s = pg_settings.replaced(toolkit_lock_timeout_s=1.0)
    blocker = block_the_tenancy_step(pg_cluster, pg_master, s)
    try:
        with pytest.raises(ToolkitError) as err:
            bootstrap.run(s, master_dsn=pg_master.dsn())
        pid = blocker.info.backend_pid
    finally:
        blocker.close()
    msg = str(err.value)
    # The server gives no position for a lock timeout, so the step is not named; the holder is.
    assert msg.startswith("bootstrap: canceling statement due to lock timeout; held by role postgres "
                          f"(pid {pid}, ") and "nothing was changed" in msg and "\n" not in msg, msg


# ----- verify meets app_user's LOCK TABLE ---------------------------------------------------

def test_verify_reports_a_lock_as_error_naming_table_and_holder_and_every_other_check(
        two_tenants, pg_cluster, pg_master, pg_super, capsys):
    s = two_tenants
    clean = {c.id: c.status for c in verify.run(s, master_dsn=pg_master.dsn()).checks}
    attacker = login(pg_cluster, pg_super, s, s.app_role)
    attacker.execute("LOCK TABLE tenant_alpha.projects IN ACCESS EXCLUSIVE MODE")  # and sits on it, idle
    try:
        started = time.monotonic()
        rep = verify.run(s, master_dsn=pg_master.dsn())
        took = time.monotonic() - started
        pid = attacker.info.backend_pid
    finally:
        attacker.close()
    checks = {c.id: c for c in rep.checks}
    print(f"\nverify under app_user's LOCK TABLE: {took:.1f} s; " + ", ".join(
        f"{c.id} {c.status.name}" for c in rep.checks if c.status is not clean[c.id]), file=sys.stderr)
    assert took < 60 and rep.exit_code == 1
    assert [c.id for c in rep.checks] == list(clean)  # every check of the registry still reported
    probe = checks["ISO-PROBE"]
    assert probe.status is Status.ERROR, probe
    assert "tenant_alpha.projects" in probe.detail and f"held by role app_user (pid {pid}, " in probe.detail, probe
    # The others that met the lock are ERROR too (the posture query reads the tenant table's catalog
    # through functions that lock it), never PASS on a probe that could not look, nor FAIL.
    for cid, c in checks.items():
        if c.status is not clean[cid]:
            assert c.status is Status.ERROR and locks.names_timeout(c.detail), (cid, c.status, c.detail)
    assert f"verify ISO-PROBE: waiting for a lock held by role app_user (pid {pid}," in capsys.readouterr().err
