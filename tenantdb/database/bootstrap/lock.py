"""The bootstrap's lock: two bootstraps of one database never interleave.

The lock is the table ``<tenancy>.bootstrap_lock``, locked for the whole run by a session of its
own (the second run waits, naming the holder, then finds nothing to do). Not an advisory lock:
any role, app_user's login included, may take any advisory key; only the master may lock its
own table (sql/bootstrap/lock_table.sql refuses one an application role could lock).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import sql

from tenantdb.database.bootstrap.outcome import guard
from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import locks
from tenantdb.database.plumbing import sqlfiles
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

APP_NAME = "tenantdb-bootstrap"
"""application_name of every bootstrap session (pg_stat_activity shows who is running one)."""

LOCK_TABLE = "bootstrap_lock"
"""The table, in the toolkit's schema, whose lock serializes bootstraps (sql/bootstrap/lock_table.sql)."""


@contextmanager
def serialized(target: db.Target, s: Settings, app_roles: list[str]) -> Iterator[None]:
    """The bootstrap's lock on ``target`` (db_name) for the whole ``with`` block, held by a session of its
    own whose transaction stays open: free, taken at once; held by another bootstrap, waited for up to
    ``bootstrap_wait_s`` while the holder is named, then one line naming it. The session changes
    nothing (its transaction is rolled back); ending it, killed or not, releases the lock.
    ``app_roles``: the roles that must not be able to lock the table (the role model's)."""
    values = _values(s, app_roles)
    with db.connect(target, s, application_name=APP_NAME) as lock:
        try:
            guard("lock", lambda: _make_table(lock, values))
            guard("lock", lambda: _take(lock, s, values))
            yield
        finally:
            try:
                lock.rollback()
            except psycopg.Error:
                pass  # gone already: so is its lock


def _values(s: Settings, app_roles: list[str]) -> dict[str, sql.Composable]:
    table = sql.Identifier(s.tenancy_schema, LOCK_TABLE)
    wait_ms = max(1, round(s.bootstrap_wait_s * 1000))
    return {"tenancy": sql.Identifier(s.tenancy_schema), "tenancy_schema_name": sql.Literal(s.tenancy_schema),
            "lock_table": table, "lock_table_text": sql.Literal(f"{s.tenancy_schema}.{LOCK_TABLE}"),
            "lock_wait": sql.Literal(f"{wait_ms}ms"), "app_roles": sql.Literal(app_roles)}


def _make_table(lock: psycopg.Connection, values: dict[str, sql.Composable]) -> None:
    """Make the lock table when missing, committed; two first runs racing to make it: the loser retries."""
    for attempt in (1, 2):
        try:
            lock.execute(sqlfiles.named("bootstrap/lock_table", values))
            lock.commit()
            return
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable, psycopg.errors.DuplicateSchema):
            lock.rollback()
            if attempt == 2:
                raise


def _take(lock: psycopg.Connection, s: Settings, values: dict[str, sql.Composable]) -> None:
    lock.execute(sqlfiles.named("bootstrap/lock_session", values))
    try:
        lock.execute(sqlfiles.named("bootstrap/lock_try", values))
        return
    except psycopg.errors.LockNotAvailable:
        lock.rollback()
    table = f"{s.tenancy_schema}.{LOCK_TABLE}"
    print(f"tenantdb: another bootstrap is running on {s.db_name} (it holds {table}); waiting up to "
          f"{s.bootstrap_wait_s:g} s", file=sys.stderr)
    lock.execute(sqlfiles.named("bootstrap/lock_session", values))
    failure: psycopg.Error | None = None
    with locks.Watch.beside(lock, "tenantdb: bootstrap", after_s=min(locks.REPORT_AFTER_S,
                                                                   s.bootstrap_wait_s / 4)) as watch:
        try:
            lock.execute(sqlfiles.named("bootstrap/lock_wait", values))
        except psycopg.Error as exc:
            if not locks.is_lock_wait(exc):
                raise
            failure = exc
    if failure is not None:
        raise ToolkitError(f"another session held the bootstrap's lock {table} for more than {s.bootstrap_wait_s:g} s"
                           f"{watch.explain() or ' (its holder ended before it could be named)'}; nothing was "
                           "changed: rerun once it ends, or end it as the master (pg_terminate_backend(pid))")
