"""One tenant's migration: one connection, one transaction, in a process of its own.

Alembic's ``context`` and ``op`` are process-wide, so tenants migrated at the
same time run in separate worker processes (spawned, not forked: no
connection or lock of the parent is inherited). Each worker loads the script
directory once and opens a fresh connection per tenant, so no session state
(a SET, a temporary table) of one tenant's revisions reaches the next.

In the tenant's transaction, in order: lock_timeout and the tenant context
(begin.sql); the tenant's registry row locked FOR UPDATE (lock.sql: two runs
never work on one tenant); the version table compared with the registry's
record (they must agree, else the tenant is refused: someone else wrote one
of them); the team's revisions through env.py; isolation by construction
(isolate.sql: a table without tenant_id that is not allowed, or a serial
column, fails the tenant); the privileges the toolkit takes back
(converge.sql: nothing for app_user on the version table or on sequences);
the schema's posture (posture.sql: any finding fails the tenant); the new
revisions recorded in the registry (record.sql). A failure rolls back
everything of that tenant and nothing of any other. Every statement runs
beside a :class:`tenantdb.database.plumbing.locks.Watch`, so a wait names who holds
what it waits for, while it waits and in the error.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import locks
from tenantdb.database.migrate import catalog, scripts
from tenantdb.database.migrate.login import Login
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings


@dataclass(frozen=True)
class Task:
    slug: str
    schema: str
    tenant_id: str
    versions: tuple[str, ...]


@dataclass
class _State:
    settings: Settings
    login: Login
    scripts: scripts.Scripts
    engine: Any
    lock_timeout_s: int


_STATE: _State | None = None


def init(settings: Settings, login: Login, directory: str, to: str | None,
         lock_timeout_s: int = catalog.LOCK_TIMEOUT_S) -> None:
    """Process initializer: load the script directory and make the engine, once per worker."""
    global _STATE
    from pathlib import Path

    loaded = scripts.load(Path(directory), to)
    _STATE = _State(settings, login, loaded, _engine(settings, login), lock_timeout_s)


def _engine(s: Settings, login: Login) -> Any:
    """A SQLAlchemy engine whose every connection is a fresh TLS psycopg connection (no pool)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    def creator() -> Any:
        return db.connect(login.target, s, application_name="tenantdb-migrate")

    return create_engine("postgresql+psycopg://", creator=creator, poolclass=NullPool)


def migrate(task: Task) -> dict[str, Any]:
    """Bring one tenant to the target; never raises (the result says what happened)."""
    assert _STATE is not None, "worker.init not called"
    st, started = _STATE, time.monotonic()
    result: dict[str, Any] = {"slug": task.slug, "schema": task.schema, "from": list(task.versions)}
    try:
        result.update(_run(st, task))
        # Unchanged: another run migrated it while this one waited for the tenant's lock.
        result["status"] = "migrated" if result["to"] != result["from"] else "current"
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        result.update(status="failed", error=describe(exc))
    result["seconds"] = round(time.monotonic() - started, 3)
    return result


class _Watches:
    """A locks.Watch beside each statement of the tenant's transaction (Alembic's through SQLAlchemy's
    cursor events, the toolkit's own through :meth:`one`): a wait that starts late is seen too."""

    def __init__(self, target: db.Target, s: Settings, raw: Any, what: str):
        self._args, self.last = (target, s, raw, what), None

    def start(self, *_: Any) -> None:
        self.stop()
        self.last = locks.Watch(*self._args).__enter__()

    def stop(self, *_: Any) -> None:
        if self.last is not None:
            self.last.__exit__(None, None, None)

    @contextmanager
    def one(self) -> Iterator[None]:
        self.start()
        try:
            yield
        finally:
            self.stop()

    @contextmanager
    def on(self, conn: Any) -> Iterator[None]:
        from sqlalchemy import event

        event.listen(conn, "before_cursor_execute", self.start)
        event.listen(conn, "after_cursor_execute", self.stop)
        try:
            yield
        finally:
            self.stop()
            event.remove(conn, "before_cursor_execute", self.start)
            event.remove(conn, "after_cursor_execute", self.stop)

    def explain(self) -> str:
        return self.last.explain() if self.last is not None else ""


def _run(st: _State, task: Task) -> dict[str, Any]:
    s = st.settings
    with st.engine.connect() as conn:
        raw = conn.connection.driver_connection  # the psycopg connection, same session and transaction
        raw.execute(catalog.session(s, task.schema))
        raw.commit()  # the role and search_path hold for the session, before Alembic runs anything
        watches = _Watches(st.login.target, s, raw, f"tenant {task.slug}'s migration")
        try:
            with conn.begin(), watches.on(conn):
                return _steps(st, task, conn, raw, watches)
        except Exception as exc:
            better = _explained(st, task, raw, watches, exc)
            if better is exc:
                raise
            raise better from None


def _steps(st: _State, task: Task, conn: Any, raw: Any, watches: _Watches) -> dict[str, Any]:
    s = st.settings
    catalog.begin(raw, s, task.tenant_id, st.lock_timeout_s)
    with watches.one():  # two runs never work on one tenant: the second waits here, then finds it current
        registered, recorded = catalog.lock(raw, s, task.tenant_id)
    if not registered:
        raise TenantRefused(f"tenant {task.slug} is no longer in {s.tenancy_schema}.tenants (dropped meanwhile)")
    before = catalog.version_table(raw, task.schema)
    if recorded is not None and recorded != before:  # NULL: a registry older than the record, adopted below
        raise TenantRefused(disagreement(s, task, recorded, before))
    scripts.upgrade(st.scripts, scripts.config(st.scripts.directory, task.schema, task.tenant_id, task.slug, conn))
    if not catalog.context_held(raw, s, task.tenant_id):
        raise TenantRefused(f"the tenant context lapsed during the migration (a signed context lives at most "
                            f"context_token_max_ttl_s = {s.context_token_max_ttl_s} s); its data migrations would "
                            "have read and written nothing after that: split the revision or raise the setting")
    with watches.one():
        isolated, refused, serial = catalog.isolate(raw, s, task.schema)
    if refused:
        raise TenantRefused(f"table(s) without tenant_id: {', '.join(refused)}; add tenant_id uuid NOT NULL "
                            "or list them in settings untenanted_tables")
    if serial:
        raise TenantRefused(f"serial column(s) {', '.join(serial)}: app_user may not draw from tenant sequences; "
                            "use GENERATED ... AS IDENTITY (sa.Identity() in SQLAlchemy)")
    with watches.one():  # no app_user privilege on the version table or the sequences
        raw.execute(catalog.converge(s, [task.slug], st.lock_timeout_s, strict=True))
    findings = catalog.posture(raw, s, [task.schema])
    if findings:
        f = findings[0]
        raise TenantRefused(f"{f['table']}: {f['problem']}" +
                            (f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""))
    now = catalog.version_table(raw, task.schema)
    catalog.record(raw, s, task.tenant_id, now)
    return {"from": list(before if recorded is None else recorded), "to": list(now), "isolated": isolated}


def disagreement(s: Settings, task: Task, recorded: tuple[str, ...], found: tuple[str, ...]) -> str:
    """One line: the two records, and both ways to repair."""
    from psycopg import sql

    table = f"{task.schema}.{catalog.VERSION_TABLE}"
    want = ", ".join(recorded) or "nothing"
    adopt = sql.SQL("UPDATE {} SET revisions = NULL WHERE slug = {}").format(
        sql.Identifier(s.tenancy_schema, "tenants"), sql.Literal(task.slug)).as_string(None)
    return (f"tenant {task.slug}: its version table {table} says {', '.join(found) or 'nothing'}, the registry "
            f"({s.tenancy_schema}.tenants.revisions) says {want}; refused, nothing changed. Repair: if the schema "
            f"is at {want}, make {table} say so again (as {s.migrator_role}); if it really is at the version "
            f"table's, run `{adopt}` as the master (the next run adopts the version table)")


def _explained(st: _State, task: Task, raw: Any, watches: _Watches, exc: Exception) -> Exception:
    """A lock wait names its holder; dependent_objects_still_exist names the pins with their owners."""
    watches.stop()
    orig = getattr(exc, "orig", None) or exc
    if locks.is_lock_wait(orig):
        held = watches.explain() or "; no holder was seen (it let go as the wait ended)"
        return TenantRefused(f"{task.schema}: gave up waiting for a lock after {st.lock_timeout_s}s "
                             f"(lock_timeout){held}; rolled back, rerun when it is free")
    if getattr(orig, "sqlstate", None) == "2BP01":
        try:
            raw.rollback()
            found = catalog.pins(raw, task.schema)
        except Exception:  # noqa: BLE001 - naming the pins only helps; the migration's own error stands
            found = []
        if found:
            return TenantRefused(f"{db.first_line(orig)}: objects outside {task.schema} depend on it: "
                                 f"{', '.join(found)}; drop or change them (their owner can), then rerun")
    return exc


class TenantRefused(ToolkitError):
    """The tenant's schema would not be isolated, or its records disagree: its migration is rolled back."""


def describe(exc: BaseException) -> str:
    """One line: the database's own message when there is one (SQLAlchemy wraps it), else the exception's."""
    orig = getattr(exc, "orig", None)
    if orig is not None:
        exc = orig
    text = db.first_line(exc) if str(exc).strip() else type(exc).__name__
    if isinstance(exc, SystemExit):
        text = f"env.py exited ({exc.code})"
    name = type(exc).__name__
    return text if isinstance(exc, TenantRefused) else f"{name}: {text}"
