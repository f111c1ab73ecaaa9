"""Query round trips of one psycopg connection, counted from libpq's own trace of the protocol."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import pq


@contextmanager
def traced(conn: psycopg.Connection, trace: Path) -> Iterator[list[str]]:
    """The protocol messages libpq traced on ``conn`` in the block, one line each ("F\t<len>\tParse\t..."
    for one the client sent, "B\t..." for one it received); the list is filled when the block ends."""
    lines: list[str] = []
    fd = os.open(trace, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    conn.pgconn.trace(fd)
    conn.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS)
    try:
        yield lines
    finally:
        conn.pgconn.untrace()  # flushes the trace
        os.close(fd)
        lines += trace.read_text().splitlines()


@contextmanager
def round_trips(conn: psycopg.Connection, trace: Path) -> Iterator[list[int]]:
    """``[n]``: the query round trips ``conn`` made in the block, counted as bench/wire.py counts them on
    the wire: each time the client goes from awaiting nothing to awaiting an answer (a Query or a Sync
    sent), from libpq's trace of the messages it sent and received."""
    count = [0]
    with traced(conn, trace) as lines:
        yield count
    outstanding = 0
    for line in lines:
        direction, _, message = (line.split("\t") + ["", "", ""])[:3]
        if direction == "F" and message in ("Query", "Sync", "FunctionCall"):
            count[0] += outstanding == 0
            outstanding += 1
        elif direction == "B" and message == "ReadyForQuery":
            outstanding = max(0, outstanding - 1)
