"""The bootstrap's SQL as few round trips: one probe that proves whether anything would change,
and, when something would, every step in ONE multi-statement query in ONE transaction.

Each step keeps its own fingerprint (its ``NNN_name.state.sql``, ``state.sql``, or the role
model's query), taken right before and right after it inside the batch, so "changed" is
measured per step exactly as when each step had its own transaction. The batch ends by
recording the md5 of its script and of every fingerprint (sql/bootstrap/record.sql); the probe
(sql/bootstrap/probe.sql) compares both, and a match means the idempotent steps would change
nothing, so a no-op rerun runs none of them.

The text is sent with the simple query protocol (no bind parameters; every value is quoted
through psycopg.sql), whose one request returns every statement's result; psycopg walks them
with ``cursor.nextset()``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from tenantdb.database.plumbing import sqlfiles
from tenantdb.errors import ToolkitError

SCRIPT_VERSION = "tenantdb-bootstrap-batch-1"
"""Part of the recorded script digest: a change in how the batch is built forces a full run."""

RECORD_TABLE = "bootstrap_state"
"""The record of the last complete bootstrap, in the toolkit's schema (sql/bootstrap/record.sql)."""

CLIENT_CHECK = "1s"
"""client_connection_check_interval of the batch's session: a bootstrap killed while its batch
waits (on a lock, say) ends its transaction, rolled back, instead of committing it later for nobody."""

_MARK = "tenantdb_state"
"""The first column of a fingerprint's result set: tells it from the steps' own results."""


@dataclass(frozen=True)
class Unit:
    """One measured step of the batch: its fingerprint query and its body."""

    name: str
    state: sql.Composable
    body: sql.Composable
    many_rows: bool = False
    """The fingerprint has one row per object (the role model's); else one row."""


def state_query(path: Path, values: dict[str, sql.Composable]) -> sql.Composed:
    """A step's state file as a subquery (its trailing semicolon dropped)."""
    text = sqlfiles.state_file(path).read_text().rstrip()
    return sqlfiles.compose(text.removesuffix(";"), values)


def _agg(state: sql.Composable) -> sql.Composed:
    """The fingerprint's rows as one JSON array, in an order that depends only on the rows
    (a subquery's ORDER BY does not bind the aggregate: the same catalog must give the same text)."""
    return sql.SQL("(SELECT pg_catalog.json_agg(f ORDER BY f::pg_catalog.text COLLATE \"C\") FROM (\n{}\n) AS f)"
                   ).format(state)


def states_sql(units: list[Unit]) -> sql.Composed:
    """Every unit's fingerprint as one JSON text (the probe and the record compute the same one)."""
    pairs = [sql.SQL("{}, {}").format(sql.Literal(u.name), _agg(u.state)) for u in units]
    return sql.SQL("pg_catalog.json_build_object({})::text").format(sql.SQL(",\n").join(pairs))


def _values(s: Any, units: list[Unit], role_names: list[str], conn: psycopg.Connection,
            values: dict[str, sql.Composable]) -> dict[str, sql.Composable]:
    table = sql.Identifier(s.tenancy_schema, RECORD_TABLE)
    return {**values, "states": states_sql(units), "record_table": table,
            "record_table_text": sql.Literal(table.as_string(conn)), "role_names": sql.Literal(role_names)}


def script_md5(conn: psycopg.Connection, units: list[Unit]) -> str:
    digest = hashlib.md5(SCRIPT_VERSION.encode(), usedforsecurity=False)
    for u in units:
        for part in (u.name, u.state.as_string(conn), u.body.as_string(conn)):
            digest.update(part.encode() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Probe:
    states: dict[str, Any]
    up_to_date: bool
    master_is_superuser: bool
    superuser_only: list[dict[str, Any]]


def probe(conn: psycopg.Connection, s: Any, units: list[Unit], role_names: list[str],
          values: dict[str, sql.Composable]) -> Probe:
    """One round trip: every fingerprint, the record, and the superuser-only attributes."""
    query = sqlfiles.named("bootstrap/probe", _values(s, units, role_names, conn, values))
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(query).fetchone() or {}
    current = f"{script_md5(conn, units)} {row.get('state_md5')}"
    states = json.loads(row.get("states") or "{}")
    return Probe({u.name: _one(u, states.get(u.name)) for u in units}, row.get("record") == current,
                 bool(row.get("master_is_superuser")), json.loads(row.get("superuser_only") or "[]"))


def _one(u: Unit, rows: list[dict] | None) -> Any:
    rows = rows or []
    return rows if u.many_rows else (rows[0] if rows else {})


def run(conn: psycopg.Connection, s: Any, units: list[Unit], role_names: list[str],
        values: dict[str, sql.Composable], before_step: dict[str, sql.Composable]
        ) -> dict[str, tuple[Any, Any]]:
    """Every unit in one transaction, in one round trip: name -> (fingerprint before, after).

    ``before_step``: statements to run right before a unit's body, after its first fingerprint
    (the superuser's fix of app_user's attributes, which the roles step must see as a change).
    Raises :class:`BatchError` naming the step when the server says where it failed.
    """
    check = sql.SQL("SET client_connection_check_interval = {}").format(sql.Literal(CLIENT_CHECK))
    parts: list[tuple[str | None, str]] = [(None, check.as_string(conn)), (None, "BEGIN")]
    for u in units:
        mark = sql.SQL("SELECT {} AS " + _MARK + ", {}::pg_catalog.text AS state").format(
            sql.Literal(u.name), _agg(u.state))
        parts.append((u.name, mark.as_string(conn)))
        if u.name in before_step:
            parts.append((u.name, before_step[u.name].as_string(conn)))
        parts += [(u.name, u.body.as_string(conn)), (u.name, mark.as_string(conn))]
    record = sqlfiles.named("bootstrap/record", {**_values(s, units, role_names, conn, values),
                                                  "script_md5": sql.Literal(script_md5(conn, units))})
    parts += [("record", record.as_string(conn)), (None, "COMMIT")]
    text, starts = "", []
    for name, piece in parts:
        starts.append((len(text), name))
        text += piece + "\n;\n"
    seen: dict[str, list[Any]] = {}
    try:
        with conn.cursor() as cur:
            cur.execute(text)  # type: ignore[call-overload]  # no parameters: simple query protocol
            while True:
                if cur.description and cur.description[0].name == _MARK:
                    name, state = cur.fetchone()  # type: ignore[misc]  # a marker result set always has its row
                    seen.setdefault(name, []).append(json.loads(state or "[]"))
                if not cur.nextset():
                    break
    except psycopg.Error as exc:
        pos = getattr(exc.diag, "statement_position", None)
        at = next((n for start, n in reversed(starts) if pos and start < int(pos)), None) if pos else None
        raise BatchError(at, exc) from exc
    by_name = {u.name: u for u in units}
    return {n: (_one(by_name[n], got[0]), _one(by_name[n], got[-1])) for n, got in seen.items()}


class BatchError(ToolkitError):
    """The batch failed (nothing of it committed); ``step`` when the server said where."""

    def __init__(self, step: str | None, cause: psycopg.Error):
        super().__init__(str(cause))
        self.step, self.cause = step, cause
