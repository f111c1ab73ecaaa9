"""Every connection form docs/connecting.md documents, run as a client would run it. Each
returns what the server says about the session (:class:`Session`): who, whether TLS is on, the
search_path in force and what the unqualified ``lower('PINNED')`` resolved to, which is
``pinned`` from the built-in and anything else from a shadow on a planted search_path.

The local secret names the instance's endpoint, which does not resolve here: the forms that
start from the secret reach the stand-in with ``hostaddr``/``port`` (what DNS and the VPC do
on AWS; for psql appended to the uri, where a later parameter wins); the forms that start from
`tenantdb local env` need nothing more.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any, NamedTuple

import psycopg

from tenantdb.database.bootstrap.app_secrets import CLIENT_SEARCH_PATH
from tenantdb.settings import Settings

WHO = ("SELECT current_user, ssl, current_setting('search_path'), lower('PINNED') "
       "FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
CLI = f"{sys.executable} -m tenantdb.cli"

# PgBouncer 1.18 in transaction pooling, as docs/connecting.md prints it: it refuses a client's
# `options` unless ignored (and then drops it), so it pins search_path itself on every server
# connection it opens, and again after every transaction. DISCARD ALL / RESET ALL alone would put
# back the role's own default, which app_user may have planted; the reset therefore ends the
# RESET ALL with the pin, and calls the one function it needs schema-qualified.
PGBOUNCER_IGNORE = "ignore_startup_parameters = options"
PGBOUNCER_CONNECT_QUERY = f"connect_query='SET search_path = {CLIENT_SEARCH_PATH}'"
PGBOUNCER_RESET = (f"server_reset_query = RESET ALL; SET search_path = {CLIENT_SEARCH_PATH}; CLOSE ALL; "
                   "DEALLOCATE ALL; UNLISTEN *; SELECT pg_catalog.pg_advisory_unlock_all(); DISCARD PLANS; "
                   "DISCARD TEMP; DISCARD SEQUENCES")


class Session(NamedTuple):
    user: str
    tls: bool
    search_path: str
    lower: str

    @property
    def pinned(self) -> bool:
        """search_path is the secret's pin and the unqualified call reached the built-in."""
        return (self.search_path.replace(" ", ""), self.lower) == (CLIENT_SEARCH_PATH.replace(" ", ""), "pinned")


def session(row: Any) -> Session:
    assert row is not None
    user, tls, path, low = row
    return Session(str(user), tls in (True, "t", "True"), str(path), str(low))


def local_env_shell(overlay: Path, role: str, script: str) -> str:
    """``eval "$(tenantdb local env --role ROLE)"`` (its PGOPTIONS and DATABASE_URL pin search_path), then
    ``script``, in bash; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_", "DATABASE_URL"))}
    cmd = f'eval "$({CLI} --settings {overlay} local env --role {role})" && {script}'
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, (proc.stderr + proc.stdout)[-3000:]
    return proc.stdout


def psql_with_local_env(overlay: Path, role: str) -> Session:
    out = local_env_shell(overlay, role, f"psql -XAt -c {shlex.quote(WHO)}").strip()
    return session(out.split("|"))


def psycopg_with_database_url(overlay: Path, role: str) -> Session:
    """DATABASE_URL (no password) from the exports; libpq takes the password from PGPASSWORD and
    the options from PGOPTIONS."""
    code = (f"import os, psycopg; r = psycopg.connect(os.environ['DATABASE_URL']).execute({WHO!r}).fetchone(); "
            "print(*r, sep='|')")
    return session(local_env_shell(overlay, role, f"{sys.executable} -c {shlex.quote(code)}").strip().split("|"))


def psycopg_from_secret(secret: dict[str, Any], hostaddr: str, port: int) -> Session:
    """The secret's uri with its password key (psycopg/libpq merge keyword arguments into a URI)."""
    with psycopg.connect(secret["uri"], password=secret["password"], hostaddr=hostaddr, port=port) as conn:
        return session(conn.execute(WHO).fetchone())


def psycopg_from_keys(secret: dict[str, Any], hostaddr: str, port: int) -> Session:
    """The secret's keys one by one, ``options`` among them (docs/connecting.md's keyword form)."""
    with psycopg.connect(host=secret["host"], hostaddr=hostaddr, port=port, dbname=secret["dbname"],
                         user=secret["username"], password=secret["password"], sslmode=secret["sslmode"],
                         options=secret["options"]) as conn:
        return session(conn.execute(WHO).fetchone())


def psql_with_secret_uri(secret: dict[str, Any], hostaddr: str, port: int) -> Session:
    """``PGPASSWORD=... psql "$uri"``: the password in the environment, never in argv."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGPASSWORD"] = secret["password"]
    where = f"{secret['uri']}&hostaddr={hostaddr}&port={port}"  # the stand-in's address, as DNS gives it on AWS
    proc = subprocess.run(["psql", "-XAt", "-c", WHO, where], capture_output=True, text=True, env=env,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return session(proc.stdout.strip().split("|"))


def sqlalchemy_from_secret(secret: dict[str, Any], hostaddr: str, port: int) -> Session:
    """SQLAlchemy 2: the URL from the secret's uri with the password set (psycopg 3 driver); the
    uri's query (sslmode, options) reaches libpq as keyword arguments."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(secret["uri"]).set(drivername="postgresql+psycopg", password=secret["password"])
    engine = create_engine(url, connect_args={"hostaddr": hostaddr, "port": port}, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            row = conn.execute(text(WHO)).one()
    finally:
        engine.dispose()
    return session(tuple(row))


def every_form(overlay: Path, s: Settings, secret: dict[str, Any], net: Any, role: str) -> dict[str, Session]:
    return {
        "psql after eval local env": psql_with_local_env(overlay, role),
        "psycopg with DATABASE_URL and PGPASSWORD": psycopg_with_database_url(overlay, role),
        "psycopg with the secret's uri and password": psycopg_from_secret(secret, net.host, net.port),
        "psycopg with the secret's keys": psycopg_from_keys(secret, net.host, net.port),
        "psql with the secret's uri and PGPASSWORD": psql_with_secret_uri(secret, net.host, net.port),
        "SQLAlchemy with the secret's uri and password": sqlalchemy_from_secret(secret, net.host, net.port),
    }
