"""The application secrets (connection secret for app_user, migrator secret for app_migrator):
their shape, how the bootstrap fills them, and the consistency rule verify checks.

Design (docs/security.md, "Rotation"): every key derived from others holds no password.
``uri`` is ``postgresql://USER@HOST:PORT/DB?sslmode=require&options=...``; a client combines it with
the ``password`` key (psycopg's ``password=`` argument, libpq's PGPASSWORD, SQLAlchemy's
``URL.set(password=...)``; docs/connecting.md). AWS's single-user rotation function copies
every key of AWSCURRENT into AWSPENDING and changes only ``password``, so after any
rotation, by any function, every key is still true. ``ssl: true`` is the key AWS's function
reads to connect over TLS only (no plaintext fallback); ``sslmode`` is the mode clients use.

Both secrets carry the pin of :data:`CLIENT_SEARCH_PATH`: the ``options`` key (libpq's
``options``, ``-c search_path=...``) and the same parameter in ``uri``. A setting sent in the
startup packet outranks the role's own defaults, so a client that connects with either keeps
its search_path even after app_user runs ``ALTER ROLE app_user SET search_path = <its schema>,
pg_catalog, public`` (any role may set its own defaults; with CREATE on the database it also
owns the schema). Both keys are fixed strings, so a rotation that copies them keeps them true.

The bootstrap keeps the password it finds (AWSCURRENT), so it never reverts a rotation;
while a rotation is in progress (AWSPENDING on a version that is not AWSCURRENT) it
refuses before changing anything: the function owns the password until it finishes.
No password is ever printed or logged: the role gets a SCRAM verifier computed here.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, unquote, urlencode, urlsplit

import psycopg
from psycopg import sql

from tenantdb.aws import pending_version
from tenantdb.database.bootstrap.lock import APP_NAME
from tenantdb.database.bootstrap.roles import Role
from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import sqlfiles
from tenantdb.database.plumbing.master import MasterTarget, app_address
from tenantdb.database.plumbing.scram import scram_sha256_verifier
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

PASSWORD_BYTES = 32
"""Random bytes in a generated password: token_urlsafe(32) is 43 URL-safe characters."""

SSLMODE = "require"
"""The TLS mode the secrets carry: every client encrypts (RDS rds.force_ssl refuses plaintext
anyway). Clients holding the RDS CA bundle raise it to verify-full (docs/connecting.md)."""

CLIENT_SEARCH_PATH = "public, pg_temp"
"""What the application's unqualified names resolve to, pinned by every client of the secrets
(docs/connecting.md). pg_catalog is not named, so PostgreSQL searches it first: built-ins first,
then ``public`` (where the bootstrap puts extensions and where only its owner, the master, may
create: PUBLIC has no CREATE there, ISO-PUBLIC-CREATE), temporary objects last (a temporary table
cannot shadow a table in ``public``). ``public`` is also the first schema named, so an
unqualified CREATE goes there (naming pg_catalog first would send it to pg_catalog, which
refuses it). Never ``"$user"`` (app_user may create a schema of that name) nor any other schema
app_user can create in. Tenant tables and the toolkit's functions are always schema-qualified
(``tenant_acme.orders``, ``tenancy.set_tenant``), so nothing else is needed on the path."""

OPTIONS = "-c search_path=" + CLIENT_SEARCH_PATH.replace(" ", "")
"""libpq ``options`` that pin :data:`CLIENT_SEARCH_PATH` from the session's start (no spaces:
libpq splits ``options`` on them). A startup-packet setting is also what RESET ALL and DISCARD
ALL return to, so a pooled connection keeps it."""

Outcome = tuple[bool, str, bool]
"""(changed, detail, skipped): what a bootstrap step reports."""


def uri(s: Settings, host: str, role: str) -> str:
    """The connection string without the password (it never goes stale), pinning search_path:
    ``?sslmode=require&options=-c%20search_path%3D...`` (percent-encoded, as libpq decodes it;
    never ``+`` for a space, which libpq would keep)."""
    query = urlencode({"sslmode": SSLMODE, "options": OPTIONS}, quote_via=quote)
    return f"postgresql://{quote(role, safe='')}@{host}:{s.port}/{quote(s.db_name, safe='')}?{query}"


def secret_value(s: Settings, host: str, password: str, role: str) -> dict[str, Any]:
    """A secret's JSON: the keys AWS's RDS rotation functions read, the TLS mode, the story's
    ``database`` and ``uri``."""
    return {"engine": "postgres", "host": host, "port": s.port, "dbname": s.db_name, "database": s.db_name,
            "username": role, "password": password, "sslmode": SSLMODE, "ssl": True, "options": OPTIONS,
            "uri": uri(s, host, role)}


def problems(value: dict[str, Any], *, host: str | None, port: int, dbname: str, role: str) -> list[str]:
    """What is inconsistent in a secret's value: fixed keys against the deployment, and each derived
    key against the others. Names keys and parts only: the password's value is never shown."""
    want = {"engine": "postgres", "host": host, "port": port, "dbname": dbname, "database": dbname,
            "username": role, "sslmode": SSLMODE, "ssl": True, "options": OPTIONS}
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
                 "database": unquote(u.path.lstrip("/"))}
        has_password = u.password is not None
    except ValueError:
        return ["uri is not a URL"]
    query = _libpq_query(u.query)
    has_password = has_password or "password" in query
    want = {"scheme": "postgresql", "user": value.get("username"), "host": value.get("host"),
            "port": value.get("port"), "database": value.get("dbname")}
    bad = [n for n, got in parts.items() if str(got).lower() != str(want[n]).lower()]
    if query.get("sslmode") != value.get("sslmode"):
        bad.append("sslmode")
    if "options" in query and query["options"] != value.get("options"):
        bad.append("options")
    bad += sorted(set(query) - {"sslmode", "options", "password"})
    out = [f"uri differs from the other keys in: {', '.join(bad)}"] if bad else []
    if "options" not in query:
        out.append("uri does not pin search_path (no options parameter): a client that connects with it "
                   "takes whatever search_path its role set on itself; rerun the bootstrap, which rewrites it")
    if has_password:
        out.append("uri holds a password (it goes stale at the first rotation); rerun the bootstrap, "
                   "which rewrites it without one")
    return out


def _libpq_query(text: str) -> dict[str, str]:
    """A URI's query parameters as libpq reads them: ``%XX`` decoded, ``+`` kept, the last of a
    repeated key wins."""
    pairs = (item.partition("=") for item in text.split("&") if item)
    return {unquote(k): unquote(v) for k, _, v in pairs}


# ----- the bootstrap's side ------------------------------------------------------------------

def refuse_if_rotating(mt: MasterTarget, logins: Iterable[Role]) -> None:
    """Before the bootstrap changes anything: no application secret (the ``password_secret`` of the
    role model's ``logins``) may have a rotation in progress.

    Refuse rather than wait or finish it: a waiting bootstrap cannot tell a slow rotation from a
    failed one, and finishing it from here would race the function, which Secrets Manager retries.
    The function owns the password from createSecret to finishSecret; after that the bootstrap
    finds AWSCURRENT logging in and changes nothing.
    """
    if not mt.via_aws or mt.aws is None:
        return
    for name in (r.password_secret for r in logins if r.password_secret):
        version = pending_version(mt.aws.describe_secret(name))
        if version:
            raise ToolkitError(
                f"secret {name}: a rotation is in progress (version {version[:8]} is AWSPENDING, not yet "
                "AWSCURRENT); the bootstrap changes no password while one runs: wait for it to finish and "
                f"rerun; if it failed (verify SEC-ROTATION-APP), fix the cause and resume it with "
                f"`aws secretsmanager rotate-secret --secret-id {name}`; nothing was changed")


def password_step(conn: psycopg.Connection, s: Settings, mt: MasterTarget, endpoint: str | None,
                  rotate: bool, login: Role) -> Outcome:
    """Fill ``login``'s secret and make the role log in with the password in it."""
    role, name = login.name, login.password_secret
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
        with db.connect(target, s, application_name=APP_NAME):
            return True
    except db.AuthError:
        return False
