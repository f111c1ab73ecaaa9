"""Live probes in one round trip: a pipeline of statements whose attempts report themselves.

A probe is a list of statements sent as one psycopg pipeline (one Sync, so one
round trip however many statements and tenants). Attacks run server-side in
sql/verify/probe/attempts.sql, each in its own undone sub-transaction, and
report ``<nonce>|<key>|ok|...`` or ``<nonce>|<key>|problem|...`` as INFO
messages; :func:`judge` then holds the results against the expected keys, so
a result that is missing (the batch stopped before it), repeated or unexpected
is a problem, never a pass. Values that are credentials (signed tokens) go in
as bound parameters, never into statement text.

A probe declares each attempt once, as an :class:`Attempt` record (key, kind,
what the report calls it, its named query); :meth:`Attempt.step` makes the
:class:`Step` sent, and every step handed to :func:`attempts` is expected back
(``Results.expected``), so what is sent and what is judged cannot drift apart.
A probe's check is then :func:`verdict` (ERROR when only a lock stood in the
way, FAIL naming the problems, else PASS).

A probe that meets a lock (app_user may hold any tenant table with ``LOCK
TABLE``) gives up after the verifier's short ``lock_timeout``
(settings ``verify_lock_timeout_s``); :func:`run` watches it
(:class:`tenantdb.database.plumbing.locks.Watch`) and :func:`met_lock` turns problems
that are all such waits into the detail of an ERROR naming the table and the
holder: the check could not judge, which is neither a pass nor a finding.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from tenantdb.checks import Control
from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import locks
from tenantdb.database.plumbing import sqlfiles
from tenantdb.report import Check, errored, failed, passed

Statement = tuple[sql.Composable, Sequence[Any] | None]


def q(name: str, /, **values: sql.Composable) -> sql.Composed:
    """A statement of the probes, sql/verify/<name>.sql (e.g. ``probe/begin``)."""
    return sqlfiles.named(f"verify/{name}", values)


def plain(name: str, /, **values: sql.Composable) -> Statement:
    """A statement without bound parameters."""
    return q(name, **values), None


@dataclass(frozen=True)
class Step:
    """One attempt of the engine, ready to send: its key, its kind (see attempts.sql), its statement, and
    what the report calls it (:attr:`expected`: what :func:`judge` holds its result against)."""

    key: str
    kind: str
    statement: sql.Composable
    what: str = ""

    @property
    def expected(self) -> tuple[str, str, str]:
        return self.key, self.kind, self.what


@dataclass(frozen=True)
class Attempt:
    """An attempt a probe declares once: its key, its kind, what the report calls it (``{label}``: the
    context it is made in) and its statement, the named query sql/verify/<query>.sql; ``whose``: the
    tenant ("a" or "b") whose id fills the statement's ``{tenant}``. :meth:`step` makes the Step sent,
    which carries what is expected back, so both come from this one record."""

    key: str
    kind: str
    what: str
    query: str
    whose: str = ""

    def step(self, values: Mapping[str, sql.Composable], *, at: str = "", label: str = "",
             kind: str | None = None, tenants: Mapping[str, str] | None = None) -> Step:
        """The Step for this attempt: keyed ``at + key``, ``what`` for ``label``, ``kind`` if the context
        changes it (:func:`in_forged`); ``values`` fill the query, ``tenants[whose]`` its ``{tenant}``."""
        if self.whose:
            values = {**values, "tenant": sql.Literal((tenants or {})[self.whose])}
        return Step(at + self.key, kind or self.kind, q(self.query, **values), self.what.format(label=label))


_CANONICAL_UUID = re.compile(r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
NOT_AN_ID = "22P02"
"""The suffix of a kind (``count|22P02``) that also accepts a refusal with invalid_text_representation."""


def in_forged(kind: str, value: str | None) -> str:
    """The kind of an attempt made in a forged context ``value`` (None: never set). A value that is
    neither empty nor a canonical uuid may also be refused with 22P02: plain mode's current_tenant_id()
    casts it and raises, which fails closed as surely as reading nothing. Unset and empty contexts, and
    a forged tenant id, must read nothing without an error."""
    return kind if not value or _CANONICAL_UUID.fullmatch(value) else f"{kind}|{NOT_AN_ID}"


@dataclass
class Results:
    """What came back: key -> (ok, what happened); repeats, the error that stopped the batch (and
    whether it was a lock or statement timeout), and who held what the probe waited for."""

    nonce: str = field(default_factory=lambda: secrets.token_hex(8))
    got: dict[str, tuple[bool, str]] = field(default_factory=dict)
    repeated: list[str] = field(default_factory=list)
    stopped: str | None = None
    timed_out: bool = False
    holders: str = ""
    expected: list[tuple[str, str, str]] = field(default_factory=list)
    """(key, kind, what) of every result the probe must get back, in report order: each Step handed to
    :func:`attempts`, and what a block of its own reports (:meth:`expect`)."""

    def expect(self, *wanted: Step | tuple[str, str, str]) -> None:
        """Add results the probe must get back (a key once: a step sent again after a failure is one)."""
        known = {key for key, _, _ in self.expected}
        for w in wanted:
            entry = w.expected if isinstance(w, Step) else w
            if entry[0] not in known:
                self.expected.append(entry)
                known.add(entry[0])

    def collect(self, diag: psycopg.errors.Diagnostic) -> None:
        parts = (diag.message_primary or "").split("|", 3)
        if len(parts) != 4 or parts[0] != self.nonce:
            return  # not ours (a NOTICE of some statement): ignored
        _, key, verdict, what = parts
        if key in self.got:
            self.repeated.append(key)
        self.got[key] = (verdict == "ok", what)


def attempts(conn: psycopg.Connection, res: Results, steps: Sequence[Step]) -> Statement:
    """The engine block running ``steps``; their statements are rendered here (values via psycopg.sql),
    and each is expected back (``res.expected``)."""
    res.expect(*steps)
    rows = [[st.key, st.kind, st.statement.as_string(conn)] for st in steps]
    return q("probe/attempts", nonce=sql.Literal(res.nonce), steps=sql.Literal(rows)), None


WATCH_AFTER_S = 0.25
"""A probe normally ends well within this; one still running may be waiting for a lock: look who holds it."""


def run(conn: psycopg.Connection, res: Results, statements: Sequence[Statement],
        after_failure: Sequence[Statement] = (), what: str = "verify: a live probe") -> Results:
    """``statements`` as one pipeline (one round trip), in autocommit so that their own BEGIN/ROLLBACK
    frame the transactions (:func:`tenantdb.database.plumbing.connection.pipeline`), ``res`` collecting the
    reports. When one fails the rest are skipped (the error is ``res.stopped``); then the open
    transaction is rolled back and ``after_failure`` runs, in a second round trip. While it runs, a
    watch names whoever holds a lock it waits for (``res.holders``; ``what`` labels it on stderr)."""
    with locks.Watch.beside(conn, what, after_s=WATCH_AFTER_S, every_s=WATCH_AFTER_S) as watch:
        _, error = db.pipeline(conn, statements, after_failure=after_failure, notices=res.collect)
    if error is not None:
        res.stopped = res.stopped or db.first_line(error)
        res.timed_out = res.timed_out or locks.is_lock_wait(error)
    res.holders = locks.describe(watch.rows) or res.holders
    return res


_MORE = re.compile(r" \(and \d+ more\)$")


def met_lock(res: Results, problems: Sequence[str], texts: Texts | None = None) -> str | None:
    """ERROR's detail when every problem is a wait for a lock the probe gave up (an attempt that raised
    a lock or statement timeout, or what the batch never ran after stopping on one): the check could
    not judge. None when a problem is anything else (that is a FAIL) or there is none."""
    if not problems:
        return None
    missing = (texts or Texts()).missing.split("{what}", 1)[1]  # the words of a result that never came
    waits: list[str] = []
    for line in problems:
        parts = [_MORE.sub("", part) for part in line.split("; ")]
        if all(locks.names_timeout(part) for part in parts):
            waits += [p for p in parts if p not in waits]
        elif not (res.timed_out and (line.endswith(missing) or line.startswith("the probe stopped early: "))):
            return None
    if not waits and not res.timed_out:
        return None
    shown = waits[:3] or [res.stopped or "a lock or statement timeout"]
    more = f" (and {len(waits) - 3} more)" if len(waits) > 3 else ""
    holder = f"; {res.holders}" if res.holders else ""
    return f"gave up waiting for a lock, so it could not judge: {'; '.join(shown)}{more}{holder}"


def verdict(c: Control, expected: str, res: Results, actual: str, problems: Sequence[str], detail: str = "",
            texts: Texts | None = None) -> Check:
    """Control ``c``'s check once its probe is judged: ERROR when only locks stood in the way
    (:func:`met_lock`: it could not judge), FAIL naming the problems, else PASS (``detail``: what held)."""
    lock = met_lock(res, problems, texts)
    if lock:
        return errored(c.id, c.title, lock, expected)
    if problems:
        return failed(c.id, c.title, expected, actual, "; ".join(problems))
    return passed(c.id, c.title, expected, actual, detail)


# ----- judging ---------------------------------------------------------------------

@dataclass(frozen=True)
class Texts:
    """How a check words what happened, per kind of attempt (``{what}`` is the attempt's label)."""

    rows: str = "{what} reads {n} rows"
    rows_raised: str = "{what} reading raised {error} instead of matching nothing"
    touched: str = "{what} touched {n} rows"
    refused: str = "{what} refused"
    not_id: str = "{what} refused (not a tenant id, 22P02)"
    succeeded: str = "{what} succeeded"
    other: str = "{what} failed for another reason: {error}"
    raised: str = "{what} raised {error}"
    missing: str = "{what}: no result (the probe stopped before it)"


def sentence(texts: Texts, kind: str, what: str, outcome: str) -> str:
    """One line for an attempt's outcome (``rows:3``, ``refused``, ``notid``, ``fact:...``, ``raised:...``)."""
    tag, _, value = outcome.partition(":")
    kind = kind.partition("|")[0]
    if tag == "rows":
        return (texts.rows if kind == "count" else texts.touched).format(what=what, n=value)
    if tag == "raised":
        return (texts.rows_raised if kind == "count" else texts.raised).format(what=what, error=value)
    if tag == "fact":
        return f"{what} {value}".strip()
    if tag == "other":
        return texts.other.format(what=what, error=value)
    if tag in ("refused", "succeeded"):
        return getattr(texts, tag).format(what=what)
    if tag == "notid":
        return texts.not_id.format(what=what)
    return f"{what} {outcome}".strip()  # "set", or anything the engine did not promise


MISSING = {"whoami": "the role the probe runs as", "session_user": "the session user", "a_sees": "A's own rows",
           "leftover": "nothing left behind"}
"""What a missing result is called when its line has no label of its own."""


def judge(res: Results, expected: Sequence[Step | tuple[str, str, str]], texts: Texts = Texts()) -> \
        tuple[list[tuple[str, bool, str]], list[str]]:
    """Each expected attempt (a Step sent, or its (key, kind, what)) as (key, ok, line); and the problems
    no expected key covers: results repeated or not expected, and the error that stopped the batch."""
    wanted = [e.expected if isinstance(e, Step) else e for e in expected]
    lines = []
    for key, kind, what in wanted:
        if key not in res.got:
            lines.append((key, False, texts.missing.format(what=what.rstrip(":") or MISSING.get(key, key))))
            continue
        ok, outcome = res.got[key]
        lines.append((key, ok and key not in res.repeated, sentence(texts, kind, what, outcome)))
    known = {k for k, _, _ in wanted}
    extra = [f"unexpected result {k!r}" for k in sorted(set(res.got) - known)]
    extra += [f"result {k!r} reported more than once" for k in sorted(set(res.repeated))]
    if res.stopped:
        extra.append(f"the probe stopped early: {res.stopped}")
    return lines, extra
