"""How `tenantdb migrate` logs in: always acting as app_migrator, the owner of tenant objects.

- Without ``--master-dsn``: the migrator's own login, from its secret
  (settings.migrator_secret_name, written by the bootstrap). The session user
  is app_migrator itself: the least power that can run DDL in tenant schemas.
- With ``--master-dsn`` (no AWS, so no secret to read): the master logs in and
  ``SET ROLE app_migrator`` (the role model makes the master a member). The
  master's own powers are set aside, and every object the revisions create is
  owned by app_migrator, so the schema's default privileges (DML for app_user)
  apply: objects owned by the master would get none of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing.connection import Target
from tenantdb.database.migrate import catalog
from tenantdb.database.plumbing.master import app_address, parse_master_dsn
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings


@dataclass(frozen=True)
class Login:
    target: Target
    """Connects to ``db_name``; its password never shows in repr or messages."""
    how: str
    """Says which login, for the report: never the password."""


def resolve(s: Settings, *, endpoint: str | None = None, master_dsn: str | None = None) -> Login:
    if master_dsn is not None:
        target = parse_master_dsn(master_dsn).with_db(s.db_name)
        return Login(target, f"--master-dsn as {target.user}, SET ROLE {s.migrator_role}")
    app_address(s, endpoint, "", 0)  # validates --endpoint / db_endpoint before any AWS call
    from tenantdb.aws import Aws

    aws = Aws(s)
    if not aws.secret_has_value(s.migrator_secret_name):
        raise ToolkitError(f"secret {s.migrator_secret_name} has no value; run `tenantdb bootstrap --env "
                           f"{s.environment}` first (it writes the migrator's login)")
    value = aws.secret_json(s.migrator_secret_name)
    try:
        user, password = str(value["username"]), str(value["password"])
        host, port = app_address(s, endpoint, str(value["host"]), int(value["port"]))
    except (KeyError, TypeError, ValueError):
        raise ToolkitError(f"secret {s.migrator_secret_name}: needs username, password, host and port; "
                           f"rerun `tenantdb bootstrap --env {s.environment}`") from None
    return Login(Target(host=host, port=port, user=user, dbname=s.db_name, password=password),
                 f"{user} from secret {s.migrator_secret_name}")


def connect(s: Settings, login: Login) -> Any:
    """An autocommit session acting as the migrator, search_path pinned to pg_catalog, pg_temp."""
    conn = db.connect(login.target, s, autocommit=True, application_name="tenantdb-migrate")
    conn.execute(catalog.session(s, "pg_catalog"))
    return conn
