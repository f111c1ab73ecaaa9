"""A local PostgreSQL cluster that stands in for the RDS instance (tests and `local up`).

What it emulates, and how honestly:

- **TLS only over TCP** (RDS ``rds.force_ssl=1``): a self-signed certificate
  (made with the ``cryptography`` package, SANs ``localhost`` and
  ``127.0.0.1``), ``hostssl ... scram-sha-256`` for every TCP client and
  ``hostnossl ... reject``, so a client that does not use TLS is refused.
  :attr:`Cluster.ca_file` is the certificate, usable as ``sslrootcert`` for
  ``sslmode=verify-full``.
- **The master user** (:meth:`Cluster.ensure_master_role`): LOGIN CREATEDB
  CREATEROLE, *not* SUPERUSER, as RDS gives its master user (RDS adds
  membership in ``rds_superuser``, which has no vanilla equivalent). SQL that
  needs a real superuser (BYPASSRLS, REPLICATION) fails here as on RDS.
- **The superuser** plays RDS's own ``rdsadmin``: reachable only through the
  cluster's Unix socket with ``trust`` (:meth:`Cluster.superuser_conninfo`),
  for test set-up and for simulating "someone else" (a superuser granting
  BYPASSRLS). Nothing else may use the socket, as nothing reaches RDS but TCP.
- **Extensions** (:meth:`Cluster.offer_extensions`): RDS's master may create
  any extension of its allow-list; a vanilla CREATEDB/CREATEROLE role only the
  *trusted* ones (uuid-ossp, pgcrypto, citext, btree_gist). The cluster,
  playing rdsadmin, creates the untrusted ones settings.extensions names
  (pg_stat_statements) and hands their objects to the master, who owns them on
  RDS; the bootstrap creates the rest, as on RDS. One this machine lacks
  (pgvector: not in the Debian archive it reaches) is named with
  :func:`why_not_offered` by the bootstrap and verify (SKIP, never PASS).
- **Parameters** (:meth:`Cluster.apply_parameters`): the parameter group's
  values in RDS units (``temp_file_limit`` among them, in kB, reloaded like
  RDS's dynamic parameters), written to an included configuration file; RDS-only
  names (``rds.*``) are not PostgreSQL settings: ``rds.force_ssl`` maps to
  pg_hba.conf, the others are reported as skipped. RDS formulas such as
  ``{DBInstanceClassMemory/32768}`` are evaluated with a memory figure the
  caller passes (the instance class's memory, or a smaller figure to save
  memory, which the verifier will then report as a difference).

As root, ``initdb``/``pg_ctl`` run as the ``postgres`` system user
(``runuser``) and every directory the cluster uses is owned by it.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from tenantdb.database.plumbing.connection import session_options
from tenantdb.database.bootstrap.extensions import why_not_offered
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

SUPERUSER = "postgres"
"""The cluster's bootstrap superuser (initdb -U): the stand-in for RDS's rdsadmin."""

_PARAMS_FILE = "tenantdb_parameters.conf"
_RDS_FORMULA = re.compile(r"^\{DBInstanceClassMemory(?:\*(\d+))?(?:/(\d+))?\}$")


_SUPERUSER_OPTIONS = session_options(Settings.model_fields["toolkit_lock_timeout_s"].default,
                                     Settings.model_fields["toolkit_statement_timeout_s"].default)


class ClusterError(ToolkitError):
    """The local cluster could not be set up or started; the message says why and where."""


def bindir() -> Path:
    """PostgreSQL's server binaries: ``$TENANTDB_PG_BINDIR`` or ``pg_config --bindir``."""
    if os.environ.get("TENANTDB_PG_BINDIR"):
        return Path(os.environ["TENANTDB_PG_BINDIR"])
    try:
        out = subprocess.run(["pg_config", "--bindir"], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ClusterError(f"pg_config --bindir failed ({exc}); install the PostgreSQL 15 server packages "
                           "(scripts/setup) or set TENANTDB_PG_BINDIR") from None
    return Path(out.stdout.strip())


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def evaluate_rds_value(value: str, memory_bytes: int | None) -> str:
    """An RDS parameter value as PostgreSQL takes it: formulas evaluated, plain values unchanged.

    Only the ``{DBInstanceClassMemory[*N][/M]}`` form is supported; anything
    else in braces is refused rather than guessed.
    """
    if not value.startswith("{"):
        return value
    m = _RDS_FORMULA.match(value)
    if not m:
        raise ClusterError(f"RDS formula {value!r} is not supported locally; use {{DBInstanceClassMemory/N}}")
    if memory_bytes is None:
        raise ClusterError(f"RDS formula {value!r} needs a memory figure (memory_bytes)")
    return str(memory_bytes * int(m[1] or 1) // int(m[2] or 1))


@dataclass
class Cluster:
    """One PostgreSQL cluster under ``base_dir`` listening on ``host:port`` (loopback only).

    ``base_dir`` holds ``data/`` (the cluster), ``run/`` (the Unix socket) and
    ``postgres.log``. Its parents must be traversable by the ``postgres`` user
    when running as root.
    """

    base_dir: Path
    port: int
    host: str = "127.0.0.1"
    _bindir: Path | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.base_dir = Path(self.base_dir).absolute()
        if self.host not in ("127.0.0.1", "localhost", "::1"):
            raise ClusterError(f"host {self.host!r}: the local cluster listens on loopback only")

    # ----- paths ------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.base_dir / "data"

    @property
    def socket_dir(self) -> Path:
        return self.base_dir / "run"

    @property
    def log_file(self) -> Path:
        return self.base_dir / "postgres.log"

    @property
    def ca_file(self) -> Path:
        """The server's self-signed certificate: the CA bundle for ``sslmode=verify-full``."""
        return self.data_dir / "server.crt"

    @property
    def bin(self) -> Path:
        if self._bindir is None:
            self._bindir = bindir()
        return self._bindir

    # ----- process helpers --------------------------------------------------
    def _as_postgres(self, *args: str | os.PathLike[str]) -> list[str]:
        cmd = [str(a) for a in args]
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def _run(self, *args: str | os.PathLike[str], timeout: float = 120) -> str:
        cmd = self._as_postgres(*args)
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                                  cwd=self.base_dir, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterError(f"{Path(str(args[0])).name}: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise ClusterError(f"{Path(str(args[0])).name} failed ({done.returncode}): {' | '.join(tail)}")
        return done.stdout

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            shutil.chown(path, "postgres", "postgres")

    # ----- lifecycle --------------------------------------------------------
    @property
    def initialized(self) -> bool:
        return (self.data_dir / "PG_VERSION").exists()

    def init(self) -> None:
        """initdb, TLS certificate, pg_hba.conf, base configuration, pg_stat_statements in template1.

        Idempotent: an initialised cluster is left as it is. Starts the server
        briefly when it has to prepare template1.
        """
        if self.initialized:
            return
        self._check_traversable()
        for d in (self.base_dir, self.socket_dir):
            d.mkdir(parents=True, exist_ok=True)
            self._own(d)
        self._run(self.bin / "initdb", "-D", self.data_dir, "-U", SUPERUSER, "-E", "UTF8",
                  "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=reject")
        self._write_tls()
        self.write_hba(force_ssl=True)
        self._write_base_conf()
        self.start()
        self._prepare_template1()

    def _check_traversable(self) -> None:
        if os.geteuid() != 0:
            return
        for parent in [*reversed(self.base_dir.parents)]:
            if parent.exists() and not os.stat(parent).st_mode & 0o001:
                raise ClusterError(f"{parent} is not traversable by the postgres user; "
                                   "put the cluster under a directory it can reach (e.g. /tmp)")

    def _write_base_conf(self) -> None:
        conf = self.data_dir / "postgresql.conf"
        lines = [
            "",
            "# ---- tenantdb local cluster (the RDS stand-in) ----",
            f"listen_addresses = '{self.host}'",
            f"port = {self.port}",
            f"unix_socket_directories = '{self.socket_dir}'",
            "ssl = on",
            "ssl_cert_file = 'server.crt'",
            "ssl_key_file = 'server.key'",
            "ssl_min_protocol_version = 'TLSv1.2'",
            "password_encryption = 'scram-sha-256'",
            "shared_preload_libraries = 'pg_stat_statements'",
            "logging_collector = off",
            "fsync = off  # a throwaway stand-in; durability is RDS's job",
            # Last, so the parameter group's values win over the lines above.
            f"include_if_exists = '{_PARAMS_FILE}'",
            "",
        ]
        with conf.open("a") as fh:
            fh.write("\n".join(lines))

    def _write_tls(self) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
        now = dt.datetime.now(dt.UTC)
        sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                x509.IPAddress(ipaddress.ip_address("::1"))]
        cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                .public_key(key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=825))
                .add_extension(x509.SubjectAlternativeName(sans), critical=False)
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .sign(key, hashes.SHA256()))
        crt, pem_key = self.data_dir / "server.crt", self.data_dir / "server.key"
        crt.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        pem_key.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        os.chmod(crt, 0o644)
        os.chmod(pem_key, 0o600)
        self._own(crt)
        self._own(pem_key)

    def write_hba(self, force_ssl: bool = True) -> None:
        """pg_hba.conf: socket trust for the superuser only; TCP with TLS and SCRAM.

        ``force_ssl`` is RDS's rds.force_ssl: when on, TCP without TLS is rejected.
        Takes effect on the next reload (:meth:`reload`).
        """
        plain = "reject" if force_ssl else "scram-sha-256"
        hba = "\n".join([
            "# tenantdb local cluster: the RDS stand-in's access rules.",
            "# Unix socket: the superuser only (plays rdsadmin; set-up and tests).",
            f"local   all  {SUPERUSER}  trust",
            "local   all  all  reject",
            "# TCP: TLS with SCRAM for everyone; without TLS per rds.force_ssl.",
            "hostssl    all  all  all  scram-sha-256",
            f"hostnossl  all  all  all  {plain}",
            "",
        ])
        path = self.data_dir / "pg_hba.conf"
        path.write_text(hba)
        self._own(path)

    def pid(self) -> int | None:
        """The postmaster's pid when it runs, else None."""
        pidfile = self.data_dir / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().split("\n", 1)[0])
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return pid

    def is_running(self) -> bool:
        return self.pid() is not None

    def start(self, timeout: float = 60) -> None:
        if self.is_running():
            return
        if not self.log_file.exists():
            self.log_file.touch()
            self._own(self.log_file)
        self._run(self.bin / "pg_ctl", "-D", self.data_dir, "-l", self.log_file, "-w",
                  "-t", str(int(timeout)), "start", timeout=timeout + 10)

    def stop(self, mode: str = "fast", timeout: float = 60) -> None:
        if not self.is_running():
            return
        self._run(self.bin / "pg_ctl", "-D", self.data_dir, "-m", mode, "-w", "-t", str(int(timeout)),
                  "stop", timeout=timeout + 10)

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def reload(self) -> None:
        with self.superuser_connect() as conn:
            conn.execute("SELECT pg_reload_conf()")

    def destroy(self) -> None:
        """Stop the server and remove ``base_dir``."""
        self.stop("immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)

    # ----- connections ------------------------------------------------------
    def superuser_conninfo(self, dbname: str = "postgres") -> str:
        """libpq conninfo for the superuser over the Unix socket (trust), its search_path pinned and
        its lock and statement timeouts set as every toolkit session's are (the settings' defaults:
        the cluster has none of its own): nothing app_user creates is ever resolved in it, and no
        lock app_user holds makes it wait without limit."""
        return psycopg.conninfo.make_conninfo(host=str(self.socket_dir), port=self.port,
                                              user=SUPERUSER, dbname=dbname, options=_SUPERUSER_OPTIONS)

    def superuser_connect(self, dbname: str = "postgres") -> psycopg.Connection:
        """An autocommit superuser connection (the caller closes it)."""
        return psycopg.connect(self.superuser_conninfo(dbname), autocommit=True)

    def tcp_conninfo(self, user: str, password: str, dbname: str = "postgres",
                     sslmode: str = "require") -> str:
        """libpq conninfo for ``user`` over TCP with TLS (what clients of RDS use)."""
        return psycopg.conninfo.make_conninfo(host=self.host, port=self.port, user=user, password=password,
                                              dbname=dbname, sslmode=sslmode)

    # ----- RDS emulation ----------------------------------------------------
    def _prepare_template1(self) -> None:
        with self.superuser_connect("template1") as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA public")

    def offer_extensions(self, names: tuple[str, ...], dbname: str, owner: str | None = None) -> dict[str, str]:
        """Play RDS's extension allow-list: create the untrusted ones of ``names`` the server has in
        ``template1`` and (when it exists) ``dbname``, where their objects then belong to ``owner``
        (the master, who creates them on RDS). Returns name -> why for those the server lacks."""
        from psycopg import sql

        with self.superuser_connect() as conn:
            # In public unless the extension fixes its schema, as the bootstrap creates them (the session's
            # pinned search_path would otherwise make pg_catalog the target).
            rows = {name: (trusted, schema or "public") for name, trusted, schema in conn.execute(
                "SELECT a.name, v.trusted, v.schema FROM pg_available_extensions a"
                " JOIN pg_available_extension_versions v ON v.name = a.name AND v.version = a.default_version"
                " WHERE a.name = ANY(%s)",
                (list(names),)).fetchall()}
            databases = ["template1"] + [dbname] * bool(conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone())
        untrusted = [n for n in names if n in rows and rows[n][0] is False]
        for db in databases:
            with self.superuser_connect(db) as conn:
                for name in untrusted:
                    conn.execute(sql.SQL("CREATE EXTENSION IF NOT EXISTS {} SCHEMA {} CASCADE").format(
                        sql.Identifier(name), sql.Identifier(rows[name][1])))
            if owner and db == dbname and untrusted:
                self.hand_over_extensions(dbname, owner, untrusted)
        return {name: why_not_offered(name) for name in names if name not in rows}

    def hand_over_extensions(self, dbname: str, owner: str, names: list[str]) -> None:
        """Give ``owner`` (the master) the objects of the extensions ``names`` in ``dbname``: on RDS
        the master creates them and owns them (sql/local/hand_over_extensions.sql)."""
        from psycopg import sql

        from tenantdb.database.plumbing import sqlfiles

        with self.superuser_connect(dbname) as conn:
            conn.execute(sqlfiles.named("local/hand_over_extensions",
                                        {"owner": sql.Literal(owner), "names": sql.Literal(list(names))}))

    def ensure_master_role(self, name: str, password: str) -> None:
        """Create or converge the master role with the powers RDS gives its master user.

        LOGIN CREATEDB CREATEROLE, NOSUPERUSER NOBYPASSRLS NOREPLICATION; the
        password is sent as a SCRAM verifier computed here, never in clear.
        """
        from psycopg import sql

        from tenantdb.database.plumbing.scram import scram_sha256_verifier

        verifier = scram_sha256_verifier(password)
        attrs = sql.SQL("LOGIN CREATEDB CREATEROLE NOSUPERUSER NOBYPASSRLS NOREPLICATION PASSWORD {}").format(
            sql.Literal(verifier))
        with self.superuser_connect() as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
            verb = sql.SQL("ALTER ROLE") if exists else sql.SQL("CREATE ROLE")
            conn.execute(sql.SQL("{} {} {}").format(verb, sql.Identifier(name), attrs))

    def create_database(self, name: str, owner: str) -> bool:
        """Create database ``name`` owned by ``owner`` from template1 (as RDS creates DBName). True if created."""
        from psycopg import sql

        with self.superuser_connect() as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return False
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE template1").format(
                sql.Identifier(name), sql.Identifier(owner)))
            return True

    def apply_parameters(self, params: Mapping[str, str], memory_bytes: int | None = None) -> dict[str, list[str]]:
        """Apply a parameter group's values (RDS units, RDS formulas) to the cluster.

        Writes them to an included configuration file, maps ``rds.force_ssl``
        to pg_hba.conf, then reloads, or restarts when a changed setting needs
        it (shared_buffers, max_connections, ...). Returns
        ``{"applied": [...], "skipped": [...], "restarted": [...]}``.
        """
        applied: dict[str, str] = {}
        skipped: list[str] = []
        force_ssl = True
        for name, value in params.items():
            if name == "rds.force_ssl":
                force_ssl = str(value).strip() == "1"
                continue
            if name.startswith("rds."):
                skipped.append(name)
                continue
            applied[name] = evaluate_rds_value(str(value), memory_bytes)
        body = ["# Written by tenantdb from the parameter group (RDS units; formulas evaluated)."]
        body += [f"{k} = '{v.replace(chr(39), chr(39) * 2)}'" for k, v in sorted(applied.items())]
        path = self.data_dir / _PARAMS_FILE
        path.write_text("\n".join(body) + "\n")
        self._own(path)
        self.write_hba(force_ssl=force_ssl)
        restarted: list[str] = []
        if self.is_running():
            # pg_file_settings re-reads the files now: a changed static setting shows as not applicable.
            with self.superuser_connect() as conn:
                restarted = [r[0] for r in conn.execute(
                    "SELECT DISTINCT name FROM pg_file_settings "
                    "WHERE error = 'setting could not be applied' ORDER BY name").fetchall()]
                conn.execute("SELECT pg_reload_conf()")
            if restarted:
                self.restart()
        return {"applied": sorted(applied), "skipped": skipped, "restarted": restarted}
