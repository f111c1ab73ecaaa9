"""The application secrets (connection secret for app_user, migrator secret for app_migrator):
their shape, how the bootstrap fills them, and the consistency rule verify checks.

Design (docs/security.md, "Rotation"): every key derived from others holds no password.
``uri`` is ``postgresql://USER@HOST:PORT/DB?sslmode=require``; a client combines it with
the ``password`` key (psycopg's ``password=`` argument, libpq's PGPASSWORD, SQLAlchemy's
``URL.set(password=...)``; docs/connecting.md). AWS's single-user rotation function copies
every key of AWSCURRENT into AWSPENDING and changes only ``password``, so after any
rotation, by any function, every key is still true. ``ssl: true`` is the key AWS's function
reads to connect over TLS only (no plaintext fallback); ``sslmode`` is the mode clients use.

The bootstrap keeps the password it finds (AWSCURRENT), so it never reverts a rotation;
while a rotation is in progress (AWSPENDING on a version that is not AWSCURRENT) it
refuses before changing anything: the function owns the password until it finishes.
No password is ever printed or logged: the role gets a SCRAM verifier computed here.
"""

from __future__ import annotations

import secrets
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import psycopg
from psycopg import sql

from tenantdb.aws import pending_version
from tenantdb.database import connection as db
from tenantdb.database import sqlfiles
from tenantdb.database.master import MasterTarget, app_address
from tenantdb.database.scram import scram_sha256_verifier
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

PASSWORD_BYTES = 32
"""Random bytes in a generated password: token_urlsafe(32) is 43 URL-safe characters."""

SSLMODE = "require"
"""The TLS mode the secrets carry: every client encrypts (RDS rds.force_ssl refuses plaintext
anyway). Clients holding the RDS CA bundle raise it to verify-full (docs/connecting.md)."""

Outcome = tuple[bool, str, bool]
"""(changed, detail, skipped): what a bootstrap step reports."""


def secret_names(s: Settings) -> dict[str, str]:
    """Every application secret the toolkit writes -> the role that logs in with it."""
    return {s.connection_secret_name: s.app_role, s.migrator_secret_name: s.migrator_role}


def uri(s: Settings, host: str, role: str) -> str:
    """The connection string without the password (it never goes stale)."""
    return (f"postgresql://{quote(role, safe='')}@{host}:{s.port}/{quote(s.db_name, safe='')}"
            f"?sslmode={SSLMODE}")


def secret_value(s: Settings, host: str, password: str, role: str | None = None) -> dict[str, Any]:
    """A secret's JSON: the keys AWS's RDS rotation functions read, the TLS mode, the story's
    ``database`` and ``uri``."""
    role = role or s.app_role
    return {"engine": "postgres", "host": host, "port": s.port, "dbname": s.db_name, "database": s.db_name,
            "username": role, "password": password, "sslmode": SSLMODE, "ssl": True, "uri": uri(s, host, role)}


def problems(value: dict[str, Any], *, host: str | None, port: int, dbname: str, role: str) -> list[str]:
    """What is inconsistent in a secret's value: fixed keys against the deployment, and each derived
    key against the others. Names keys and parts only: the password's value is never shown."""
    want = {"engine": "postgres", "host": host, "port": port, "dbname": dbname, "database": dbname,
            "username": role, "sslmode": SSLMODE, "ssl": True}
    out = [f"{k} is {value[k]!r}, expected {v!r}" for k, v in want.items()
           if k in value and str(value[k]) != str(v)]
    if isinstance(value.get("uri"), str):
        out += _uri_problems(value["uri"], value)
    elif "uri" in value:
        out.append("uri is not a string")
    return out


def _uri_problems(text: str, value: dict[str, Any]) -> list[str]:
    try:
        u = urlsplit(text)
        parts = {"scheme": u.scheme, "user": unquote(u.username or ""), "host": u.hostname, "port": u.port,
                 "database": unquote(u.path.lstrip("/")), "query": u.query}
        has_password = u.password is not None
    except ValueError:
        return ["uri is not a URL"]
    want = {"scheme": "postgresql", "user": value.get("username"), "host": value.get("host"),
            "port": value.get("port"), "database": value.get("dbname"), "query": f"sslmode={value.get('sslmode')}"}
    bad = [n for n, got in parts.items() if str(got).lower() != str(want[n]).lower()]
    out = [f"uri differs from the other keys in: {', '.join(bad)}"] if bad else []
    if has_password:
        out.append("uri holds a password (it goes stale at the first rotation); rerun the bootstrap, "
                   "which rewrites it without one")
    return out


# ----- the bootstrap's side ------------------------------------------------------------------

def refuse_if_rotating(s: Settings, mt: MasterTarget) -> None:
    """Before the bootstrap changes anything: no application secret may have a rotation in progress.

    Refuse rather than wait or finish it: a waiting bootstrap cannot tell a slow rotation from a
    failed one, and finishing it from here would race the function, which Secrets Manager retries.
    The function owns the password from createSecret to finishSecret; after that the bootstrap
    finds AWSCURRENT logging in and changes nothing.
    """
    if not mt.via_aws or mt.aws is None:
        return
    for name in secret_names(s):
        version = pending_version(mt.aws.describe_secret(name))
        if version:
            raise ToolkitError(
                f"secret {name}: a rotation is in progress (version {version[:8]} is AWSPENDING, not yet "
                "AWSCURRENT); the bootstrap changes no password while one runs: wait for it to finish and "
                f"rerun; if it failed (verify SEC-ROTATION-APP), fix the cause and resume it with "
                f"`aws secretsmanager rotate-secret --secret-id {name}`; nothing was changed")


def password_step(conn: psycopg.Connection, s: Settings, mt: MasterTarget, endpoint: str | None,
                  rotate: bool, role: str | None = None, secret: str | None = None) -> Outcome:
    """Fill one secret and make its role log in with the password in it (app_user's by default)."""
    role, name = role or s.app_role, secret or s.connection_secret_name
    if not mt.via_aws or mt.aws is None:
        return (False, "--master-dsn: no connection secret to write to; "
                f"{role}'s password left as it is (a new {role} has none)", True)
    address = mt.instance_address
    if not address or not address[0]:
        raise ToolkitError(f"instance {s.instance_identifier} has no endpoint address for the connection secret")
    existing = mt.aws.current_secret(name) or {}
    kept = existing.get("password") if isinstance(existing.get("password"), str) and not rotate else None
    password = kept or secrets.token_urlsafe(PASSWORD_BYTES)
    value = secret_value(s, address[0], password, role)
    done: list[str] = []
    if value != existing:
        mt.aws.put_secret_json(name, value)  # first: a crash before ALTER ROLE is repaired by the next run
        done.append(f"secret {name} written")
    if not kept:
        set_password(conn, password, role)
        done.append(f"{'rotated' if rotate else 'generated'} {role}'s password")
    elif not can_log_in(s, mt, endpoint, password, role):
        set_password(conn, password, role)
        done.append(f"{role}'s password reset to the secret's")
    if done:
        return True, "; ".join(done), False
    return False, f"{role} logs in with the password in {name}", False


def set_password(conn: psycopg.Connection, password: str, role: str) -> None:
    with conn.transaction():
        conn.execute(sqlfiles.named("session/set_password", {
            "role": sql.Identifier(role), "verifier": sql.Literal(scram_sha256_verifier(password))}))


def can_log_in(s: Settings, mt: MasterTarget, endpoint: str | None, password: str, role: str) -> bool:
    host, port = mt.instance_address or (mt.target.host, mt.target.port)
    host, port = app_address(s, endpoint, host, port)
    target = mt.target.with_address(host, port).with_login(role, password).with_db(s.db_name)
    try:
        with db.connect(target, s, application_name="tenantdb-bootstrap"):
            return True
    except db.AuthError:
        return False
