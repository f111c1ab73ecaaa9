"""Fixtures: a real PostgreSQL 15 server, set up as the RDS stand-in.

- ``pg_cluster`` (session): a TLS-only cluster in a temporary directory on a
  free loopback port, with dev's parameter group applied (shared_buffers from
  db.t3.medium's memory, work_mem 64MB, ...), and a master role with the
  powers RDS gives its master user (CREATEDB CREATEROLE, not SUPERUSER) and a
  random password.
- ``pg_master``: that master role's name, password and DSNs.
- ``pg_super``: run SQL as the cluster's superuser (plays "someone else": a
  superuser granting BYPASSRLS, a DBA changing a setting).
- ``pg_fresh`` (function): the server as RDS leaves it after `cdktf deploy`:
  the database ``db_name`` owned by the master and nothing of the bootstrap's
  (no app_user, no tenancy schema, no ALTER SYSTEM overrides). Use it in
  every test that changes state.
- ``pg_settings`` / ``pg_overlay``: dev settings pointing at the cluster, as
  an object and as a ``--settings`` TOML file for the CLI.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from psycopg import sql

from tenantdb import settings as settings_mod
from tenantdb.local.postgres import SUPERUSER, Cluster, free_port

TEST_ENV = "dev"


@dataclass(frozen=True)
class Master:
    user: str
    password: str
    host: str
    port: int

    def dsn(self, dbname: str = "postgres", password: str | None = None, **params: str) -> str:
        pw = quote(self.password if password is None else password, safe="")
        query = "&".join(f"{k}={v}" for k, v in {"sslmode": "require", **params}.items())
        return f"postgresql://{quote(self.user)}:{pw}@{self.host}:{self.port}/{dbname}?{query}"


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    base = Path(tempfile.mkdtemp(prefix="tenantdb-pg-", dir="/tmp"))
    os.chmod(base, 0o755)  # the postgres user must reach it when the tests run as root
    cluster = Cluster(base, free_port())
    try:
        cluster.init()
        s = settings_mod.load(TEST_ENV)
        cluster.apply_parameters({k: v for k, (v, _) in s.db_parameters.items()}, s.instance_memory_bytes)
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture(scope="session")
def pg_master(pg_cluster: Cluster) -> Master:
    s = settings_mod.load(TEST_ENV)
    password = secrets.token_urlsafe(24)
    pg_cluster.ensure_master_role(s.master_username, password)
    return Master(s.master_username, password, pg_cluster.host, pg_cluster.port)


class Super:
    """The cluster's superuser, over the Unix socket."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster

    def execute(self, query: str | sql.Composable, params: object = None, dbname: str = "postgres") -> list[tuple]:
        with self.cluster.superuser_connect(dbname) as conn:
            cur = conn.execute(query, params)  # type: ignore[arg-type]  # params: psycopg's Params, typed object here
            return cur.fetchall() if cur.description else []

    def role(self, name: str) -> dict[str, object] | None:
        rows = self.execute("SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin, "
                            "rolpassword IS NOT NULL FROM pg_authid WHERE rolname = %s", (name,))
        if not rows:
            return None
        keys = ("super", "bypassrls", "createrole", "createdb", "login", "has_password")
        return dict(zip(keys, rows[0], strict=True))


@pytest.fixture(scope="session")
def pg_super(pg_cluster: Cluster) -> Super:
    return Super(pg_cluster)


def reset_server(cluster: Cluster, s: settings_mod.Settings, master: str) -> None:
    """Back to the state RDS leaves: db_name owned by the master, no roles or objects of ours."""
    if not cluster.is_running():
        cluster.start()
    with cluster.superuser_connect() as conn:
        conn.execute("ALTER SYSTEM RESET ALL")
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE usename <> %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                     ("postgres",))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(s.db_name)))
        for role in (s.app_role, s.migrator_role, s.platform_admin_role):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
    cluster.create_database(s.db_name, master)
    # pg_stat_statements came from template1 (the superuser's): the master owns it on RDS.
    cluster.hand_over_extensions(s.db_name, master, ["pg_stat_statements"])


@pytest.fixture
def pg_fresh(pg_cluster: Cluster, pg_master: Master) -> Cluster:
    reset_server(pg_cluster, settings_mod.load(TEST_ENV), pg_master.user)
    return pg_cluster


@pytest.fixture(scope="session")
def pg_overlay(pg_cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A --settings file: dev, with the database endpoint at the cluster and short timeouts.

    The cluster's superuser plays RDS's rdsadmin, so it joins the roles the operator owns
    (as the local environment's profile does).
    """
    path = tmp_path_factory.mktemp("pg-settings") / "settings.toml"
    path.write_text(f'[{TEST_ENV}]\ndb_endpoint = "{pg_cluster.host}:{pg_cluster.port}"\n'
                    "retry_budget_s = 4.0\nconnect_timeout_s = 2\n"
                    f"aws_internal_roles = {json.dumps(list(aws_internal_roles()))}\n")
    return path


def aws_internal_roles() -> tuple[str, ...]:
    """RDS's own roles plus the stand-in cluster's superuser (which plays rdsadmin)."""
    return (*settings_mod.Settings.model_fields["aws_internal_roles"].default, SUPERUSER)


@pytest.fixture(scope="session")
def pg_settings(pg_overlay: Path) -> settings_mod.Settings:
    return settings_mod.load(TEST_ENV, pg_overlay)


def connect_as(cluster: Cluster, user: str, password: str, dbname: str) -> psycopg.Connection:
    """A TLS connection over TCP, as any client of RDS would make."""
    return psycopg.connect(cluster.tcp_conninfo(user, password, dbname), autocommit=True)
