"""The context key of the signed tenant context: generate, store, rotate with overlap.

Two stores hold the same key ring (tenantdb.database.tenancy.context_token.KeyRing):

- the secret ``context_key_secret_name`` (Secrets Manager, encrypted with the
  secrets CMK, readable through the application's IRSA policy): what the
  application mints with; the source of truth when the bootstrap goes
  through AWS;
- the table ``tenancy.context_keys`` that only its owner, the master, reads:
  what the database verifies with (sql/045_tenant_context_signed.sql).

The bootstrap's ``context-key`` step (:func:`converge`) makes the database
match the secret (adopting the database's keys when the secret is still
empty), generates the first key, rotates when asked or when the current key
is older than ``context_key_rotation_days``, and drops keys whose retirement
has passed. Rotation keeps the old key valid for one overlap
(``context_token_max_ttl_s`` + the clock skew allowance): every token minted
before the rotation expires before its key retires.

Order of writes: the database first (a new key there is harmless until the
secret announces it), then the secret. A failure between the two is repaired
by the next run, which sets the database back to the secret.

With ``--master-dsn`` there is no secret: the database is the only store,
the first key is generated there, and a rotation happens only when asked
(a scheduled rotation would leave the secret, if one exists, behind).

Key material never reaches a log, an argument, a statement text or the
step's detail: it travels to the database by COPY and is shown by key id.
"""

from __future__ import annotations

import time
from datetime import datetime, UTC
from typing import Any

import psycopg
from psycopg import sql

from tenantdb.database.plumbing import sqlfiles
from tenantdb.database.tenancy.context_token import CLOCK_SKEW_S, Key, KeyRing, new_key
from tenantdb.database.tenancy.slugs import validate_slug
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

DAY_S = 86400


def _query(s: Settings, name: str) -> sql.Composed:
    path = sqlfiles.sql_dir() / "context_key" / f"{name}.sql"
    return sqlfiles.load(path, {"tenancy": sql.Identifier(s.tenancy_schema)})


# ----- the database store --------------------------------------------------------

def read_db(conn: psycopg.Connection, s: Settings) -> KeyRing:
    """The keys in tenancy.context_keys (read as its owner, the master)."""
    rows = conn.execute(_query(s, "keys")).fetchall()
    return KeyRing(tuple(Key(kid, bytes(key), int(created), None if retires is None else int(retires))
                         for kid, key, created, retires in rows))


def write_db(conn: psycopg.Connection, s: Settings, have: KeyRing, want: KeyRing) -> None:
    """Make the table hold exactly ``want``: drop, then retire or restore, then add (one current at a time)."""
    old = {k.kid: k for k in have.keys}
    new = {k.kid: k for k in want.keys}
    gone = [kid for kid, k in old.items() if kid not in new or new[kid].secret != k.secret]
    if gone:
        conn.execute(_query(s, "delete"), {"kids": gone})
    for kid, k in new.items():
        if kid in old and kid not in gone and old[kid].retires_at != k.retires_at:
            conn.execute(_query(s, "retire"), {"kid": kid, "retires_at": k.retires_at})
    added = [k for kid, k in new.items() if kid not in old or kid in gone]
    if added:
        with conn.cursor().copy(_query(s, "insert")) as copy:
            for k in added:
                copy.write_row((k.kid, k.secret, _ts(k.created_at), _ts(k.retires_at)))


def _ts(t: int | None) -> datetime | None:
    return None if t is None else datetime.fromtimestamp(t, UTC)


# ----- the secret store ------------------------------------------------------------

def read_secret(aws: Any, s: Settings) -> KeyRing | None:
    """The key ring in the context key secret; None while it has no value (Terraform creates it empty)."""
    from tenantdb.database.tenancy.context_token import TokenError

    name = s.context_key_secret_name
    if not aws.secret_has_value(name):
        return None
    value = aws.secret_json(name)
    if value == {}:
        return None
    try:
        return KeyRing.from_json(value)
    except TokenError as exc:
        raise ToolkitError(f"secret {name}: {exc}; restore its previous version, or put '{{}}' as its value "
                           "and rerun the bootstrap (it adopts the database's keys or generates one)") from None


def write_secret(aws: Any, s: Settings, ring: KeyRing) -> None:
    aws.put_secret_json(s.context_key_secret_name, ring.to_json())


# ----- what to do: pure, from one ring and the clock -----------------------------------

def plan(ring: KeyRing, s: Settings, now: int, *, rotate: bool, scheduled: bool = True) -> tuple[KeyRing, list[str]]:
    """The ring to store and what changed, in words. ``scheduled``: rotate a key older than
    ``context_key_rotation_days`` without being asked."""
    done: list[str] = []
    valid = ring.valid(now)
    for k in ring.keys:
        if k not in valid.keys:
            done.append(f"removed retired key {k.kid}")
    currents = [k for k in valid.keys if k.retires_at is None]
    if not currents:
        key = new_key(now)
        done.append(f"generated key {key.kid}")
        return valid.with_key(key), done
    age_days = (now - currents[0].created_at) / DAY_S
    due = scheduled and age_days >= s.context_key_rotation_days
    if rotate or due:
        retires = now + s.context_token_max_ttl_s + CLOCK_SKEW_S
        key = new_key(now)
        done.append(f"rotated{' (due)' if due and not rotate else ''}: key {key.kid} current, "
                    f"{currents[0].kid} verifies until {_iso(retires)}")
        return valid.retiring_current(retires).with_key(key), done
    return valid, done


def _iso(t: int) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def describe(ring: KeyRing, s: Settings, now: int) -> str:
    cur = ring.current
    retiring = [k for k in ring.keys if k.retires_at is not None]
    due = cur.created_at + s.context_key_rotation_days * DAY_S
    text = (f"key {cur.kid} current since {_iso(cur.created_at)}, "
            + (f"rotation overdue since {_iso(due)}" if now >= due else f"rotates by {_iso(due)}"))
    return text + (f"; {len(retiring)} retiring" if retiring else "")


# ----- the bootstrap step ------------------------------------------------------------------

def converge(conn: psycopg.Connection, s: Settings, mt: Any, *, rotate: bool = False,
             now: int | None = None) -> tuple[bool, str, bool]:
    """The ``context-key`` step: (changed, detail, skipped)."""
    if s.tenant_context != "signed":
        return False, "tenant_context = plain: no context key (docs/tenant-context.md)", True
    at = int(now if now is not None else time.time())
    aws = mt.aws if getattr(mt, "via_aws", False) else None
    with conn.transaction():
        in_db = read_db(conn, s)
        in_secret = read_secret(aws, s) if aws is not None else None
        source = in_secret if in_secret is not None else in_db
        want, done = plan(source, s, at, rotate=rotate, scheduled=aws is not None)
        if want != in_db:
            write_db(conn, s, in_db, want)
            if not done:
                done.append(f"database keys set to the {'secret' if in_secret is not None else 'database'}'s")
    if aws is not None and want != in_secret:
        write_secret(aws, s, want)
        done.append(f"secret {s.context_key_secret_name} written")
    if aws is None:
        done.append("--master-dsn: keys kept in the database only")
    changed = want != in_db or (aws is not None and want != in_secret)
    detail = "; ".join(done) if changed else describe(want, s, at) + (f"; {done[-1]}" if done else "")
    return changed, detail, False


# ----- minting for operators and checks ---------------------------------------------------

def ring(s: Settings, *, conn: psycopg.Connection | None = None, aws: Any = None) -> KeyRing:
    """The key ring to mint with: from the database as the master (``conn``), else from the secret."""
    if conn is not None:
        found = read_db(conn, s)
        conn.rollback()
        where = f"{s.tenancy_schema}.context_keys"
    else:
        found = read_secret(aws, s) or KeyRing()
        where = f"secret {s.context_key_secret_name}"
    if not any(k.retires_at is None for k in found.keys):
        raise ToolkitError(f"{where} has no current context key; run `tenantdb bootstrap --env {s.environment}` "
                           "with tenant_context = \"signed\"")
    return found


def tenant_id(conn: psycopg.Connection, s: Settings, slug: str) -> str:
    """A registered tenant's id (the master reads the registry)."""
    row = conn.execute(_query(s, "tenant"), {"slug": slug}).fetchone()
    conn.rollback()
    if not row:
        raise ToolkitError(f"tenant {slug!r} is not registered in {s.db_name}; "
                           f"create it: tenantdb tenant create {slug} --env {s.environment}")
    return str(row[0])


def context_for(s: Settings, master: psycopg.Connection, tenant: str, ttl_s: int = 60) -> str:
    """What to pass to ``tenancy.set_tenant`` for ``tenant`` in this environment's mode: the id itself
    (plain) or a token minted with the database's current key, read as the master (signed).
    For the toolkit's own probes; applications mint from the secret."""
    if s.tenant_context != "signed":
        return tenant
    return ring(s, conn=master).mint(tenant, min(ttl_s, s.context_token_max_ttl_s))


def token(s: Settings, slug: str, *, ttl_s: int | None = None, endpoint: str | None = None,
          master_dsn: str | None = None) -> str:
    """`tenantdb tenant token`: a token for a registered tenant. The tenant id comes from the registry
    (as the master); the key from the database with ``--master-dsn``, else from the context key secret."""
    from tenantdb.database.plumbing import connection as db
    from tenantdb.database.tenancy.context_token import DEFAULT_TTL_S
    from tenantdb.database.plumbing.master import resolve_master
    from tenantdb.errors import UsageError

    if s.tenant_context != "signed":
        raise UsageError(f"tenant token: tenant_context is \"plain\" for {s.environment}; set tenant_context = "
                         "\"signed\" in its settings and rerun the bootstrap (in plain mode the id is the context)")
    ttl = DEFAULT_TTL_S if ttl_s is None else ttl_s
    if ttl_s is not None and not 1 <= ttl_s <= s.context_token_max_ttl_s:
        raise UsageError(f"--ttl {ttl_s}: must be 1 to {s.context_token_max_ttl_s} seconds "
                         "(context_token_max_ttl_s)")
    ttl = min(ttl, s.context_token_max_ttl_s)
    validate_slug(s, slug)
    mt = resolve_master(s, endpoint=endpoint, master_dsn=master_dsn)
    with db.connect(mt.target.with_db(s.db_name), s, application_name="tenantdb-tenant") as conn:
        tenant = tenant_id(conn, s, slug)
        keys = ring(s, conn=conn) if not mt.via_aws else ring(s, aws=mt.aws)
    return keys.mint(tenant, ttl)
