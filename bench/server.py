"""The benchmarks' own PostgreSQL: a throwaway local cluster (the RDS stand-in of
tenantdb.local.postgres: TLS only, a master without SUPERUSER) in /tmp, on a
free loopback port, destroyed at the end. Nothing of anyone else's is touched.

Round trips are counted on the server, not guessed on the client: the
master's sessions are logged (``log_statement = all`` for the master role
only, and only inside :meth:`BenchServer.counting`), and :meth:`BenchServer.round_trips` counts the log
lines one application_name produced. A simple-protocol query string (a whole
file sent at once) is one line, an extended-protocol execute one line, and
psycopg's own BEGIN/COMMIT one line each: one line per query round trip.
"""

from __future__ import annotations

import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from tenantdb import settings as settings_mod
from tenantdb.local.postgres import SUPERUSER, Cluster, free_port

ENV = "dev"
_LINE = re.compile(r"^\S+ \S+ \S+ \[(\d+)\] ([^:]*): (LOG|ERROR|FATAL):  (.*)$")


@dataclass(frozen=True)
class RoundTrips:
    queries: int
    connections: int


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
        c.create_database(s.db_name, s.master_username)
        return self

    def close(self) -> None:
        self.cluster.destroy()

    def __enter__(self) -> BenchServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ----- connections -----------------------------------------------------------
    def master_dsn(self, dbname: str = "postgres") -> str:
        return self.cluster.tcp_conninfo(self.settings.master_username, self.master_password, dbname)

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
        """Back to what RDS leaves after deploy: db_name owned by the master, none of the bootstrap's roles."""
        s = self.settings
        with self.superuser() as su:
            su.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(s.db_name)))
            for role in (s.app_role, s.migrator_role, s.platform_admin_role):
                su.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))
        self.cluster.create_database(s.db_name, s.master_username)

    def set_password(self, role: str) -> str:
        """Give ``role`` a login password (as the superuser; the benchmark's own cluster)."""
        password = secrets.token_urlsafe(24)
        with self.superuser() as su:
            su.execute(sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(sql.Identifier(role), sql.Literal(password)))
        return password

    # ----- round trips from the server's log ----------------------------------------
    @contextmanager
    def counting(self) -> Iterator[int]:
        """Log every statement of the master's new sessions while inside; yields the log offset.

        Only while counting: verify's AC6-LIVE (rightly) fails while log_statement is not as declared.
        """
        role = sql.Identifier(self.settings.master_username)
        with self.superuser() as su:
            su.execute(sql.SQL("ALTER ROLE {} SET log_statement = 'all'").format(role))
        try:
            yield self.log_mark()
        finally:
            with self.superuser() as su:
                su.execute(sql.SQL("ALTER ROLE {} RESET log_statement").format(role))

    def log_mark(self) -> int:
        try:
            return os.path.getsize(self.cluster.log_file)
        except OSError:
            return 0

    def round_trips(self, since: int, application_name: str) -> RoundTrips:
        """Query round trips and connections of ``application_name`` logged after ``since``."""
        with open(self.cluster.log_file, encoding="utf-8", errors="replace") as fh:
            fh.seek(since)
            text = fh.read()
        queries, pids = 0, set()
        for line in text.splitlines():
            m = _LINE.match(line)
            if not m or m[2] != application_name or m[3] != "LOG":
                continue
            if m[4].startswith(("statement: ", "execute ")):
                queries += 1
                pids.add(m[1])  # one backend per connection
        return RoundTrips(queries, len(pids))
