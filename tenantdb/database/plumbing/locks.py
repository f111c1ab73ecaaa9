"""Name who holds what a toolkit session waits for, while it waits.

Every toolkit session runs under ``lock_timeout`` and ``statement_timeout``
(:func:`tenantdb.database.plumbing.connection.connect`), so nothing waits without
limit. A wait that ends in a timeout is still worth one line that says who was
in the way: :class:`Watch` starts a timer beside a statement; if the statement
still runs after ``after_s``, a second connection (same target, same pinned
search_path) asks ``pg_blocking_pids`` who holds what the first waits for,
again every ``every_s`` until the statement ends, says each holder once on
stderr, and keeps the answer for the error message::

    with locks.Watch(target, s, conn, "tenant acme's migration") as watch:
        conn.execute(...)
    # on psycopg.errors.LockNotAvailable / QueryCanceled:
    raise ToolkitError(f"... {watch.explain()}")

:meth:`Watch.beside` takes the target and settings from the connection itself
(one :func:`~tenantdb.database.plumbing.connection.connect` made); :func:`named_waits`
wraps a block and turns its lock or statement timeout into that one line. The
holder's query text is never read: it may carry another tenant's data.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import psycopg

from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import sqlfiles
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

REPORT_AFTER_S = 1.0
"""How long a statement runs before the watch asks who holds what it waits for."""
LOOK_EVERY_S = 0.5
"""How often it asks again while the statement still runs (a pipeline may wait, give up, and wait again)."""
WATCH_APP = "tenantdb-lock-watch"

TIMEOUT_SQLSTATES = ("55P03", "57014")
"""lock_not_available (lock_timeout, NOWAIT) and query_canceled (statement_timeout)."""
TIMEOUT_TEXTS = ("canceling statement due to lock timeout", "canceling statement due to statement timeout",
                 "could not obtain lock on")
"""The server's words for the same, where only a message came back (an error caught and reported by a
probe's own PL/pgSQL, which keeps SQLERRM but not the SQLSTATE)."""


def describe(rows: list[dict[str, Any]]) -> str:
    """``held by role app_user (pid 4242, AccessExclusiveLock on tenant_acme.projects, open 12 s)``."""
    if not rows:
        return ""
    parts = [f"role {r['role'] or '?'} (pid {r['pid']}, {r['mode']} on {r['what']}"
             + (f", {r['application']}" if r.get("application") else "")
             + (f", open {r['seconds']} s" if r.get("seconds") is not None else "") + ")" for r in rows]
    return "held by " + "; ".join(parts)


def holders(conn: psycopg.Connection, pid: int) -> list[dict[str, Any]]:
    """Who holds what backend ``pid`` waits for (empty when it waits for nothing)."""
    return db.fetch_all_dicts(conn, sqlfiles.named("session/lock_holders"), (pid,))


def is_lock_wait(exc: BaseException) -> bool:
    """A statement that gave up waiting: lock_timeout (55P03) or statement_timeout (57014)."""
    return getattr(exc, "sqlstate", None) in TIMEOUT_SQLSTATES


def names_timeout(text: str) -> bool:
    """A message (a probe's report of an error it caught) that is a lock or statement timeout."""
    return any(t in text for t in TIMEOUT_TEXTS)


@contextmanager
def named_waits(conn: psycopg.Connection, what: str, **kw: Any) -> Iterator[Watch]:
    """A :meth:`Watch.beside` ``conn`` around the block; a lock or statement timeout in it becomes one
    :class:`ToolkitError` line naming the holder (``what: canceling statement due to lock timeout; held by ...``)."""
    watch = Watch.beside(conn, what, **kw)
    try:
        with watch:
            yield watch
    except psycopg.Error as exc:
        if not is_lock_wait(exc):
            raise
        raise ToolkitError(f"{what}: {db.first_line(exc)}{watch.explain()}") from None


class Watch:
    """Beside one statement (or a pipeline): after ``after_s``, and every ``every_s`` while it still
    runs, ask who blocks ``conn``; each holder is said once on stderr (unless ``quiet``) and kept."""

    def __init__(self, target: db.Target | None, s: Settings | None, conn: psycopg.Connection, what: str, *,
                 after_s: float = REPORT_AFTER_S, every_s: float = LOOK_EVERY_S, quiet: bool = False):
        self._what, self._quiet, self._after, self._every = what, quiet, after_s, every_s
        self._open: Callable[[], psycopg.Connection | None] = (
            (lambda: db.connect(target, s, autocommit=True, application_name=WATCH_APP, budget_s=0))
            if target is not None and s is not None else (lambda: db.reconnect(conn, WATCH_APP)))
        self._pid = conn.info.backend_pid
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"lock watch: {what}")
        self.rows: list[dict[str, Any]] = []

    @classmethod
    def beside(cls, conn: psycopg.Connection, what: str, **kw: Any) -> Watch:
        """A watch whose second session is made like ``conn`` (``connection.reconnect``)."""
        return cls(None, None, conn, what, **kw)

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()  # a look under way finishes before the caller explains

    def _run(self) -> None:
        if self._stop.wait(self._after):
            return  # done before it was worth a look: no second session at all
        try:
            conn = self._open()
        except Exception:  # noqa: BLE001 - the watch only informs; the watched statement decides the outcome
            return
        if conn is None:
            return
        with conn:
            while True:
                try:
                    self._keep(holders(conn, self._pid))
                except Exception:  # noqa: BLE001 - as above
                    return
                if self._stop.wait(self._every):
                    return

    def _keep(self, rows: list[dict[str, Any]]) -> None:
        """Add the holders not seen before (said once); a holder seen again keeps its latest age."""
        def key(r: dict[str, Any]) -> tuple[Any, ...]:
            return r["pid"], r["mode"], r["what"]

        latest = {key(r): r for r in rows}
        new = [r for k, r in latest.items() if k not in {key(o) for o in self.rows}]
        self.rows = [latest.get(key(o), o) for o in self.rows] + new
        if new and not self._quiet:
            print(f"{self._what}: waiting for a lock {describe(new)}", file=sys.stderr)

    def explain(self) -> str:
        """``; held by role ...`` when the watch saw a holder, else an empty string."""
        text = describe(self.rows)
        return f"; {text}" if text else ""
