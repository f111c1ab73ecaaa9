"""One tenant's migration: one connection, one transaction, in a process of its own.

Alembic's ``context`` and ``op`` are process-wide, so tenants migrated at the
same time run in separate worker processes (spawned, not forked: no
connection or lock of the parent is inherited). Each worker loads the script
directory once and opens a fresh connection per tenant, so no session state
(a SET, a temporary table) of one tenant's revisions reaches the next.

In the tenant's transaction, in order: the advisory lock and timeouts
(begin.sql), the team's revisions through env.py, isolation by construction
(isolate.sql: enable_isolation on every tenant_id table; a table without
tenant_id that is not allowed fails the tenant), and the schema's posture
(posture.sql: any finding fails the tenant). A failure rolls back everything
of that tenant and nothing of any other.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from tenantdb.database import connection as db
from tenantdb.database.migrate import catalog, scripts
from tenantdb.database.migrate.login import Login
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


_STATE: _State | None = None


def init(settings: Settings, login: Login, directory: str, to: str | None) -> None:
    """Process initializer: load the script directory and make the engine, once per worker."""
    global _STATE
    from pathlib import Path

    loaded = scripts.load(Path(directory), to)
    _STATE = _State(settings, login, loaded, _engine(settings, login))


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


def _run(st: _State, task: Task) -> dict[str, Any]:
    s = st.settings
    with st.engine.connect() as conn:
        raw = conn.connection.driver_connection  # the psycopg connection, same session and transaction
        raw.execute(catalog.session(s, task.schema))
        raw.commit()  # the role and search_path hold for the session, before Alembic runs anything
        with conn.begin():
            catalog.begin(raw, s, task.schema, task.tenant_id)
            # Under the lock: what the tenant is at now (another run may have migrated it while we waited).
            before = catalog.versions(raw, s, [task.slug])
            scripts.upgrade(st.scripts, scripts.config(st.scripts.directory, task.schema, task.tenant_id,
                                                       task.slug, conn))
            isolated, refused = catalog.isolate(raw, s, task.schema)
            if refused:
                raise TenantRefused(f"table(s) without tenant_id: {', '.join(refused)}; add tenant_id uuid NOT NULL "
                                    "or list them in settings untenanted_tables")
            findings = catalog.posture(raw, s, [task.schema])
            if findings:
                f = findings[0]
                raise TenantRefused(f"{f['table']}: {f['problem']}" +
                                    (f" (and {len(findings) - 1} more)" if len(findings) > 1 else ""))
            now = catalog.versions(raw, s, [task.slug])
    return {"from": list(before[0].versions or ()) if before else [], "to": list(now[0].versions or ()) if now else [],
            "isolated": isolated}


class TenantRefused(Exception):
    """The tenant's schema would not be isolated: its migration is rolled back."""


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
