"""Every connection form docs/connecting.md documents, run as a client would run it. Each
returns what the server says about the session: (current_user, TLS on).

The local secret names the instance's endpoint, which does not resolve here: the forms that
start from the secret reach the stand-in with ``hostaddr``/``port`` (what DNS and the VPC do
on AWS); the forms that start from `tenantdb local env` need nothing more.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg

from tenantdb.settings import Settings

WHO = "SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
CLI = f"{sys.executable} -m tenantdb.cli"


def local_env_shell(overlay: Path, role: str, script: str) -> str:
    """``eval "$(tenantdb local env --role ROLE)"`` then ``script``, in bash; its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "AWS_", "DATABASE_URL"))}
    cmd = f'eval "$({CLI} --settings {overlay} local env --role {role})" && {script}'
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, (proc.stderr + proc.stdout)[-3000:]
    return proc.stdout


def psql_with_local_env(overlay: Path, role: str) -> tuple[str, bool]:
    out = local_env_shell(overlay, role, f'psql -XAt -c "{WHO}"').strip()
    user, ssl = out.split("|")
    return user, ssl == "t"


def psycopg_with_database_url(overlay: Path, role: str) -> tuple[str, bool]:
    """DATABASE_URL (no password) from the exports; libpq takes the password from PGPASSWORD."""
    code = f"import os, psycopg; r = psycopg.connect(os.environ['DATABASE_URL']).execute({WHO!r}).fetchone(); print(*r)"
    user, ssl = local_env_shell(overlay, role, f'{sys.executable} -c "{code}"').split()
    return user, ssl == "True"


def psycopg_from_secret(secret: dict[str, Any], hostaddr: str, port: int) -> tuple[str, bool]:
    """The secret's uri with its password key (psycopg/libpq merge keyword arguments into a URI)."""
    with psycopg.connect(secret["uri"], password=secret["password"], hostaddr=hostaddr, port=port) as conn:
        row = conn.execute(WHO).fetchone()
    assert row is not None
    return str(row[0]), bool(row[1])


def sqlalchemy_from_secret(secret: dict[str, Any], hostaddr: str, port: int) -> tuple[str, bool]:
    """SQLAlchemy 2: the URL from the secret's uri with the password set (psycopg 3 driver)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(secret["uri"]).set(drivername="postgresql+psycopg", password=secret["password"])
    engine = create_engine(url, connect_args={"hostaddr": hostaddr, "port": port}, pool_pre_ping=True)
    try:
        with engine.connect() as conn:
            row = conn.execute(text(WHO)).one()
    finally:
        engine.dispose()
    return str(row[0]), bool(row[1])


def every_form(overlay: Path, s: Settings, secret: dict[str, Any], net: Any, role: str) -> dict[str, tuple[str, bool]]:
    return {
        "psql after eval local env": psql_with_local_env(overlay, role),
        "psycopg with DATABASE_URL and PGPASSWORD": psycopg_with_database_url(overlay, role),
        "psycopg with the secret's uri and password": psycopg_from_secret(secret, net.host, net.port),
        "SQLAlchemy with the secret's uri and password": sqlalchemy_from_secret(secret, net.host, net.port),
    }
