"""TLS connections with bounded retry, and the few round-trip-frugal helpers the
bootstrap and the verifier share.

- Every connection uses TLS: ``sslmode=require`` at least, ``verify-full``
  when the settings name a CA bundle (or the target asks for it).
- Transient failures (refused, timed out, too many connections, a server
  starting up or shutting down) are retried with exponential backoff within
  ``settings.retry_budget_s``; then one line and :class:`ToolkitError`.
- Authentication failures are final at once: retrying a wrong password only
  locks accounts and wastes the budget.
- No message ever holds a password: errors name ``user@host:port/db``.
- search_path is pinned to ``pg_catalog, pg_temp`` in the startup packet
  (:data:`PINNED_SEARCH_PATH`), before the first statement: a schema app_user
  creates and names after a privileged role (the default ``"$user"`` entry)
  can then never shadow a built-in function, aggregate or operator in a
  toolkit session, and the toolkit's own objects are always schema-qualified.
- ``lock_timeout`` and ``statement_timeout`` come in the same startup packet
  (:func:`session_options`, settings ``toolkit_lock_timeout_s`` and
  ``toolkit_statement_timeout_s``): no toolkit statement waits or runs without
  limit, whatever lock app_user holds; :mod:`tenantdb.database.plumbing.locks` names the holder.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from weakref import WeakKeyDictionary

import psycopg

from tenantdb.database.plumbing import sqlfiles
from tenantdb import errors
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

_STRONG_SSLMODES = ("require", "verify-ca", "verify-full")

Notices = Callable[[psycopg.errors.Diagnostic], None]
"""A handler of the server's notices (NOTICE, INFO, WARNING) during a pipeline."""

PINNED_SEARCH_PATH = "pg_catalog, pg_temp"
"""Every toolkit session's search_path: built-ins only, and temporary objects last (never first:
functions and operators are not looked up in pg_temp at all)."""
PINNED_OPTIONS = "-c search_path=" + PINNED_SEARCH_PATH.replace(" ", "")
"""libpq ``options`` that pin :data:`PINNED_SEARCH_PATH` from the session's start, before any statement."""


def session_options(lock_timeout_s: float, statement_timeout_s: float) -> str:
    """libpq ``options`` of a toolkit session: :data:`PINNED_OPTIONS`, ``lock_timeout`` and
    ``statement_timeout`` (milliseconds), all in force before its first statement."""
    return (f"{PINNED_OPTIONS} -c lock_timeout={_ms(lock_timeout_s)} "
            f"-c statement_timeout={_ms(statement_timeout_s)}")


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


# SQLSTATEs of server-side failures worth another attempt.
TRANSIENT_SQLSTATES = frozenset({
    "53300",  # too_many_connections
    "57P01",  # admin_shutdown
    "57P02",  # crash_shutdown
    "57P03",  # cannot_connect_now (starting up, shutting down, in recovery)
    "08000", "08001", "08003", "08004", "08006",  # connection exceptions
    "40001", "40P01",  # serialization failure, deadlock (safe to retry a whole step)
})
# libpq reports connection-time failures as text only (no SQLSTATE reaches psycopg).
_TRANSIENT_TEXT = (
    "connection refused", "timeout expired", "timed out", "could not connect", "server closed the connection",
    "the database system is starting up", "the database system is shutting down",
    "the database system is in recovery mode", "the database system is not yet accepting connections",
    "too many clients", "remaining connection slots are reserved", "terminating connection due to administrator",
    "no route to host", "connection reset", "ssl syscall error", "eof detected", "network is unreachable",
)
_AUTH_TEXT = ("password authentication failed", "authentication failed", "pg_hba.conf rejects",
              "no pg_hba.conf entry", "password must be", "role \"")


@dataclass(frozen=True)
class Target:
    """Where and as whom to connect. ``password`` never shows in repr or messages."""

    host: str
    port: int
    user: str
    dbname: str
    password: str | None = field(default=None, repr=False)
    sslmode: str = "require"
    sslrootcert: str | None = None

    def describe(self) -> str:
        """``user@host:port/dbname``: safe for messages and reports."""
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"

    def with_db(self, dbname: str) -> Target:
        return replace(self, dbname=dbname)

    def with_login(self, user: str, password: str | None) -> Target:
        return replace(self, user=user, password=password)

    def with_address(self, host: str, port: int) -> Target:
        return replace(self, host=host, port=port)

    def conninfo_kwargs(self, settings: Settings, application_name: str,
                        lock_timeout_s: float | None = None) -> dict[str, Any]:
        """libpq keywords; ``lock_timeout_s`` replaces settings' ``toolkit_lock_timeout_s`` (verify's is shorter)."""
        sslmode, root = self.sslmode, self.sslrootcert
        if settings.ca_bundle and sslmode == "require":
            sslmode, root = "verify-full", settings.ca_bundle
        if sslmode not in _STRONG_SSLMODES:
            raise ToolkitError(f"{self.describe()}: sslmode={sslmode} is not allowed; the toolkit connects over "
                               "TLS only (require, verify-ca or verify-full)")
        kw: dict[str, Any] = {"host": self.host, "port": self.port, "user": self.user, "dbname": self.dbname,
                              "sslmode": sslmode, "connect_timeout": settings.connect_timeout_s,
                              "application_name": application_name,
                              "options": session_options(
                                  settings.toolkit_lock_timeout_s if lock_timeout_s is None else lock_timeout_s,
                                  settings.toolkit_statement_timeout_s)}
        if self.password is not None:
            kw["password"] = self.password
        if root:
            kw["sslrootcert"] = root
        return kw


class AuthError(ToolkitError):
    """The server refused the credentials (wrong password, unknown role, no pg_hba entry)."""


class ConnectError(ToolkitError):
    """The server could not be reached within the retry budget, or refused for a non-transient reason."""


def first_line(exc: BaseException) -> str:
    """The first meaningful line of a driver error (:func:`tenantdb.errors.first_line`), with libpq's
    preamble removed."""
    text = errors.first_line(exc)
    # libpq: 'connection failed: connection to server at "h" (ip), port p failed: FATAL:  reason'
    if "failed: " in text:
        text = text.rsplit("failed: ", 1)[1]
    return text.replace("FATAL:  ", "").replace("ERROR:  ", "").strip()


def is_auth_failure(exc: BaseException) -> bool:
    if getattr(exc, "sqlstate", None) in ("28P01", "28000"):
        return True
    text = str(exc).lower()
    return any(t in text for t in _AUTH_TEXT) and "too many" not in text


def is_transient(exc: BaseException) -> bool:
    if getattr(exc, "sqlstate", None) in TRANSIENT_SQLSTATES:
        return True
    if not isinstance(exc, psycopg.OperationalError):
        return False
    text = str(exc).lower()
    return any(t in text for t in _TRANSIENT_TEXT)


def connect(target: Target, settings: Settings, *, autocommit: bool = False, application_name: str = "tenantdb",
            budget_s: float | None = None, lock_timeout_s: float | None = None) -> psycopg.Connection:
    """A TLS connection to ``target``; transient failures retried within the budget. Its session runs
    under the toolkit's lock and statement timeouts (``lock_timeout_s`` overrides the lock's).

    Raises :class:`AuthError` at once on rejected credentials and
    :class:`ConnectError` when the budget is spent or the failure is final.
    """
    kwargs = target.conninfo_kwargs(settings, application_name, lock_timeout_s)
    budget = settings.retry_budget_s if budget_s is None else budget_s
    deadline = time.monotonic() + budget
    delay, attempts = 0.25, 0
    while True:
        attempts += 1
        try:
            conn = psycopg.connect(autocommit=autocommit, **kwargs)
            _ORIGIN[conn] = (target, settings, lock_timeout_s)
            return conn
        except psycopg.Error as exc:
            reason = first_line(exc)
            if is_auth_failure(exc):
                raise AuthError(f"cannot log in as {target.describe()}: {reason}; check the credentials "
                                "(the RDS master secret, the connection secret or --master-dsn)") from None
            left = deadline - time.monotonic()
            if not is_transient(exc) or left <= 0:
                spent = f" after {attempts} attempts in {budget:.0f}s" if attempts > 1 else ""
                raise ConnectError(f"cannot connect to {target.describe()}{spent}: {reason}") from None
            time.sleep(min(delay, max(left, 0.05)))
            delay = min(delay * 2, 5.0)


_ORIGIN: WeakKeyDictionary[psycopg.Connection, tuple[Target, Settings, float | None]] = WeakKeyDictionary()


def reconnect(conn: psycopg.Connection, application_name: str) -> psycopg.Connection | None:
    """A second session like ``conn`` (same target, settings and timeouts), to look at ``conn`` from
    outside while it waits (:mod:`tenantdb.database.plumbing.locks`); None for a connection :func:`connect` did
    not make. One attempt, no retry: the caller only informs."""
    origin = _ORIGIN.get(conn)
    if origin is None:
        return None
    target, settings, lock_timeout_s = origin
    return connect(target, settings, autocommit=True, application_name=application_name, budget_s=0,
                   lock_timeout_s=lock_timeout_s)


def tls_info(conn: psycopg.Connection) -> tuple[bool, str]:
    """(TLS in use, "TLSv1.3 TLS_AES_256_GCM_SHA384") for this session, as the server sees it; one round trip."""
    rows = read_only_batch(conn, [sqlfiles.named("session/tls")])[0]
    if isinstance(rows, BaseException):
        raise rows
    return tls_from(rows[0] if rows else None)


def tls_from(row: dict[str, Any] | None) -> tuple[bool, str]:
    """(TLS in use, version and cipher) from this session's pg_stat_ssl row (ssl, version, cipher)."""
    if not row:
        return False, "no pg_stat_ssl row for this session"
    return bool(row["ssl"]), f"{row.get('version') or ''} {row.get('cipher') or ''}".strip()


def read_only_batch(conn: psycopg.Connection, queries: list[Any]) -> list[list[dict[str, Any]] | psycopg.Error]:
    """:func:`batch` in a read-only transaction: a check can never change what it inspects."""
    return batch(conn, queries, read_only=True)


def batch(conn: psycopg.Connection, queries: list[Any], *,
          read_only: bool) -> list[list[dict[str, Any]] | psycopg.Error]:
    """Each query's rows (as dicts) in ONE round trip: a pipeline of BEGIN, the queries, ROLLBACK.

    A query is a statement or (statement, parameters). One that fails gets its error in its place,
    and so does each one after it (the server skips them); :func:`pipeline` then rolls back, which
    costs a second round trip only then. Nothing the queries did outlives the call.
    """
    begin = sqlfiles.named("session/begin_read_only" if read_only else "session/begin")
    cursors, error = pipeline(conn, [begin, *queries, sqlfiles.named("session/rollback")])
    rows = [_rows(cur, error) for cur in cursors[1:len(queries) + 1]]
    unsent = error or psycopg.InterfaceError("the query was not sent")  # the pipeline stopped before it
    return rows + [unsent] * (len(queries) - len(rows))


def pipeline(conn: psycopg.Connection, queries: Sequence[Any], *, after_failure: Sequence[Any] = (),
             notices: Notices | None = None) -> tuple[list[psycopg.Cursor[dict[str, Any]]], psycopg.Error | None]:
    """``queries`` as ONE pipeline (one round trip) in autocommit: their own BEGIN/ROLLBACK frame the
    transactions (psycopg would wait for its implicit BEGIN; an explicit one rides along). Returns a
    cursor per query (rows as dicts) and the error that stopped the pipeline, if one did.

    A query is a statement or (statement, parameters). After a failure the server has skipped the
    rest; then ONE more round trip rolls back the open transaction together with ``after_failure``.
    ``notices`` hears the server's notices for the whole call. Whatever was open before is rolled
    back first (no round trip when idle); autocommit is restored, and nothing left open outlives
    the call. A connection that broke raises nothing more than the error that broke it.
    """
    conn.rollback()  # nothing to do (and no round trip) when the session is idle
    was, conn.autocommit = conn.autocommit, True
    if notices is not None:
        conn.add_notice_handler(notices)
    try:
        cursors, error = _send(conn, queries)
        if error is not None and not conn.closed and (after_failure or _open(conn)):
            rollback = [sqlfiles.named("session/rollback")] if _open(conn) else []
            _send(conn, [*rollback, *after_failure])  # its own failure changes nothing: the first one stands
        return cursors, error
    finally:
        if notices is not None:
            conn.remove_notice_handler(notices)
        if _open(conn):  # left open by the queries, or by a failed after_failure
            conn.execute(sqlfiles.named("session/rollback"))
        if not conn.closed:
            conn.autocommit = was


def _send(conn: psycopg.Connection,
          queries: Sequence[Any]) -> tuple[list[psycopg.Cursor[dict[str, Any]]], psycopg.Error | None]:
    from psycopg.rows import dict_row

    cursors: list[psycopg.Cursor[dict[str, Any]]] = []
    try:
        with conn.pipeline():
            for query in queries:
                statement, params = query if isinstance(query, tuple) else (query, None)
                cursors.append(conn.cursor(row_factory=dict_row))
                cursors[-1].execute(statement, params)
    except psycopg.Error as exc:
        return cursors, exc
    return cursors, None


def _open(conn: psycopg.Connection) -> bool:
    """A transaction is open (or failed and not yet rolled back); False on a closed connection."""
    return not conn.closed and conn.info.transaction_status in (psycopg.pq.TransactionStatus.INTRANS,
                                                                psycopg.pq.TransactionStatus.INERROR)


def _rows(cur: psycopg.Cursor[dict[str, Any]], error: psycopg.Error | None) -> list[dict[str, Any]] | psycopg.Error:
    """A pipelined query's rows, or the error that stopped it (it, or one before it, failed)."""
    status = cur.pgresult.status if cur.pgresult is not None else None
    if status == psycopg.pq.ExecStatus.TUPLES_OK:
        return cur.fetchall()
    if status == psycopg.pq.ExecStatus.COMMAND_OK:
        return []
    return error or psycopg.InterfaceError("the query returned no result")


def fetch_one_dict(conn: psycopg.Connection, query: Any, params: Any = None) -> dict[str, Any] | None:
    """One row as a dict (None when no row): for batched catalog queries."""
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchone()


def fetch_all_dicts(conn: psycopg.Connection, query: Any, params: Any = None) -> list[dict[str, Any]]:
    from psycopg.rows import dict_row

    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(query, params)
        return cur.fetchall()
