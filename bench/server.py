"""The benchmarks' own PostgreSQL: a throwaway local cluster (the RDS stand-in of
tenantdb.local.postgres: TLS only, a master without SUPERUSER) in /tmp, on a
free loopback port, destroyed at the end. Nothing of anyone else's is touched.

Round trips are counted on the wire, not guessed (bench.wire): every
toolkit connection of a counted run goes through a TLS-terminating proxy in
front of the cluster (:meth:`BenchServer.wire_settings`,
:meth:`BenchServer.wire_dsn`), which counts each time a client waits for the
server, per application_name; a pipeline or a multi-statement string is one
round trip, as it is on the network. Timed runs connect to the cluster
directly (the proxy adds latency).
"""

from __future__ import annotations

import secrets
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

from bench.wire import Count, WireCounter
from tenantdb import settings as settings_mod
from tenantdb.database.plumbing.connection import PINNED_OPTIONS
from tenantdb.local.postgres import SUPERUSER, Cluster, free_port

ENV = "dev"
TOOLKIT_APPS = "tenantdb"
"""The toolkit's connections all name themselves tenantdb-<command>; the benchmark's own do not."""


class BenchServer:
    def __init__(self) -> None:
        base = Path(tempfile.mkdtemp(prefix="tenantdb-bench-", dir="/tmp"))
        base.chmod(0o755)
        self.cluster = Cluster(base, free_port())
        self.master_password = secrets.token_urlsafe(24)
        self.settings = settings_mod.Settings  # replaced in start()

    # ----- lifecycle -----------------------------------------------------------
    def start(self) -> BenchServer:
        c = self.cluster
        c.init()
        rds_only = settings_mod.Settings.model_fields["aws_internal_roles"].default
        self.settings = settings_mod.load(ENV, db_endpoint=f"{c.host}:{c.port}",
                                          aws_internal_roles=(*rds_only, SUPERUSER))
        s = self.settings
        # dev's parameter group, as the tests apply it (shared_buffers etc. in RDS units).
        c.apply_parameters({k: v for k, (v, _) in s.db_parameters.items()}, s.instance_memory_bytes)
        c.ensure_master_role(s.master_username, self.master_password)
        with c.superuser_connect() as su:
            su.execute("ALTER SYSTEM SET log_line_prefix = '%m [%p] %a: '")
            su.execute("SELECT pg_reload_conf()")
        self._create_database()
        self.wire = WireCounter(c.host, c.port, c.data_dir / "server.crt", c.data_dir / "server.key").start()
        return self

    def close(self) -> None:
        if getattr(self, "wire", None):
            self.wire.close()
        self.cluster.destroy()

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- connections -----------------------------------------------------------
    def master_dsn(self, dbname: str = "postgres") -> str:
        return self.cluster.tcp_conninfo(self.settings.master_username, self.master_password, dbname)

    def connect_master(self, dbname: str | None = None, **kwargs: object) -> psycopg.Connection:
        """The master over TLS (default: db_name), its search_path pinned as the toolkit pins every
        session with power: what the benchmark times then runs as verify and bootstrap run it."""
        return psycopg.connect(self.master_dsn(dbname or self.settings.db_name),  # type: ignore[call-overload]
                               options=PINNED_OPTIONS, **kwargs)

    def superuser(self, dbname: str = "postgres") -> psycopg.Connection:
        return self.cluster.superuser_connect(dbname)

    def overlay(self, directory: Path) -> Path:
        """A --settings file for the CLI: dev, pointed at this cluster."""
        import json

        path = directory / "bench-settings.toml"
        s = self.settings
        path.write_text(f'[{ENV}]\ndb_endpoint = "{self.cluster.host}:{self.cluster.port}"\n'
                        f"aws_internal_roles = {json.dumps(list(s.aws_internal_roles))}\n")
        return path

    def reset(self) -> None:
        """Back to what RDS leaves after deploy: db_name owned by the master, none of the bootstrap's roles.
        Every other database goes too (another benchmark's grants to the roles would keep them)."""
        s = self.settings
        with self.superuser() as su:
            for (name,) in su.execute("SELECT datname FROM pg_catalog.pg_database "
                                      "WHERE NOT datistemplate AND datname <> 'postgres'").fetchall():
                su.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
            for role in (s.app_role, s.migrator_role, s.platform_admin_role):
                su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        self._create_database()

    def _create_database(self) -> None:
        """db_name as `local up` makes it: owned by the master, with the master owning the objects of
        the extensions RDS creates for it (pg_stat_statements comes from template1, made by the
        superuser; left so, the bootstrap could not revoke app_user's access and ISO-STATS would fail)."""
        s = self.settings
        self.cluster.create_database(s.db_name, s.master_username)
        self.cluster.offer_extensions(s.extensions, s.db_name, owner=s.master_username)

    def install_context_key(self, s: settings_mod.Settings) -> object:
        """A signing key in tenancy.context_keys (as its owner, the master): what the bootstrap writes
        from the context key secret, which a --master-dsn bootstrap has no AWS to read."""
        from tenantdb.database.tenancy.context_token import Key

        key = Key(secrets.token_hex(4), secrets.token_bytes(32), int(time.time()) - 60)
        table = sql.Identifier(s.tenancy_schema, "context_keys")
        with self.connect_master(s.db_name, autocommit=True) as conn:
            conn.execute(sql.SQL("DELETE FROM {}").format(table))
            conn.execute(sql.SQL("INSERT INTO {} (kid, key, created_at) VALUES (%s, %s, to_timestamp(%s))")
                         .format(table), (key.kid, key.secret, key.created_at))
        return key

    def set_password(self, role: str) -> str:
        """Give ``role`` a login password (as the superuser; the benchmark's own cluster)."""
        password = secrets.token_urlsafe(24)
        with self.superuser() as su:
            su.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        return password

    # ----- round trips on the wire -----------------------------------------------------
    def wire_settings(self) -> settings_mod.Settings:
        """The settings, with the database endpoint at the counting proxy."""
        return self.settings.replaced(db_endpoint=f"{self.wire.host}:{self.wire.port}")

    def wire_dsn(self, dbname: str = "postgres") -> str:
        c = self.cluster
        return self.master_dsn(dbname).replace(f"port={c.port}", f"port={self.wire.port}")

    def mark(self) -> object:
        return self.wire.mark()

    def round_trips(self, since: object, prefix: str = TOOLKIT_APPS) -> Count:
        """Query round trips, connections and statements of the toolkit's connections since ``since``."""
        return self.wire.count(since, prefix)  # type: ignore[arg-type]  # since is what mark() returned
