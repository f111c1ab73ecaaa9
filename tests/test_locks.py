"""tenantdb.database.plumbing.locks: a toolkit session that waits for a lock names who holds it.

The holder is app_user's own login over TLS (the threat model), holding a table lock in an
open transaction; the waiter is a toolkit session (connect(): the pinned search_path and the
toolkit's lock_timeout from the startup packet)."""

from __future__ import annotations

import psycopg
import pytest

from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.plumbing import locks
from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing.master import resolve_master
from tenantdb.errors import ToolkitError
from tests.test_isolation import login


@pytest.fixture
def held(pg_fresh, pg_cluster, pg_master, pg_super, pg_settings):
    """app_user's own login holding ACCESS EXCLUSIVE on a table of its own; yields (settings, target, holder pid)."""
    s = pg_settings.replaced(toolkit_lock_timeout_s=2.0)
    bootstrap.run(s, master_dsn=pg_master.dsn())
    holder = login(pg_cluster, pg_super, s, s.app_role)
    holder.execute("CREATE SCHEMA held; CREATE TABLE held.t (id int)")
    holder.commit()
    holder.execute("LOCK TABLE held.t IN ACCESS EXCLUSIVE MODE")  # open transaction: held until the test ends
    target = resolve_master(s, master_dsn=pg_master.dsn()).target.with_db(s.db_name)
    try:
        yield s, target, holder.info.backend_pid
    finally:
        holder.close()


def wait_under(watch_for: locks.Watch, conn: psycopg.Connection) -> tuple[psycopg.Error | None, locks.Watch]:
    """Read the held table under the watch; (the error the read ended with, the watch)."""
    with watch_for as watch:
        try:
            conn.execute("SELECT count(*) FROM held.t")
        except psycopg.Error as exc:
            return exc, watch
    return None, watch


def test_the_watch_names_the_holder_while_a_toolkit_session_waits(held, capsys):
    s, target, pid = held
    with db.connect(target, s, autocommit=True) as conn:
        assert conn.execute("SHOW lock_timeout").fetchone() == ("2s",)
        error, watch = wait_under(locks.Watch(target, s, conn, "a toolkit read", after_s=0.3), conn)
    assert isinstance(error, psycopg.errors.LockNotAvailable) and locks.is_lock_wait(error)
    named = f"held by role app_user (pid {pid}, AccessExclusiveLock on held.t"
    assert watch.explain().startswith(f"; {named}") and "open " in watch.explain()
    err = capsys.readouterr().err
    assert err.startswith(f"a toolkit read: waiting for a lock {named}") and err.count("\n") == 1  # said once


def test_beside_takes_the_target_from_the_connection(held, capsys):
    s, target, pid = held
    with db.connect(target, s, autocommit=True) as conn:
        error, watch = wait_under(locks.Watch.beside(conn, "beside", after_s=0.3, quiet=True), conn)
    assert locks.is_lock_wait(error) and f"role app_user (pid {pid}," in watch.explain()
    assert capsys.readouterr().err == ""  # quiet


def test_named_waits_turns_the_timeout_into_one_line_naming_the_holder(held, capsys):
    s, target, pid = held
    with db.connect(target, s, autocommit=True) as conn:
        with pytest.raises(ToolkitError) as err:
            with locks.named_waits(conn, "a read", after_s=0.3, quiet=True):
                conn.execute("SELECT count(*) FROM held.t")
    msg = str(err.value)
    assert msg.startswith("a read: canceling statement due to lock timeout; held by role app_user "
                          f"(pid {pid}, AccessExclusiveLock on held.t") and "\n" not in msg, msg


def test_no_holder_names_nobody(pg_fresh, pg_master, pg_settings, capsys):
    """A statement that runs past the first look without waiting for any lock: nothing to name."""
    target = resolve_master(pg_settings, master_dsn=pg_master.dsn()).target
    with db.connect(target, pg_settings, autocommit=True) as conn:
        with locks.Watch.beside(conn, "a slow read", after_s=0.1, every_s=0.1) as watch:
            conn.execute("SELECT pg_sleep(0.6)")
    assert watch.rows == [] and watch.explain() == "" and locks.describe([]) == ""
    assert capsys.readouterr().err == ""


def test_a_connection_connect_did_not_make_is_not_watched(pg_cluster, capsys):
    with pg_cluster.superuser_connect() as conn:
        assert db.reconnect(conn, "x") is None
        with locks.Watch.beside(conn, "unknown", after_s=0.05) as watch:
            conn.execute("SELECT pg_sleep(0.2)")
    assert watch.explain() == "" and capsys.readouterr().err == ""


def test_timeouts_are_told_by_sqlstate_or_by_the_servers_words():
    assert locks.names_timeout("a context on tenant_a.t raised canceling statement due to lock timeout")
    assert locks.names_timeout("canceling statement due to statement timeout")
    assert not locks.names_timeout("permission denied for table t")
