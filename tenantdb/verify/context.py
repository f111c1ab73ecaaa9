"""What the checks share: the settings, the AWS look-ups and the database
connections, each made once and only when a check needs it (every AWS call
once per run: the instance, each key, each secret's metadata and value).

Every look-up that fails raises; :func:`tenantdb.report.run_check` turns that
into ERROR for the check that asked, so a failure never becomes a PASS.
Every database connection goes through :meth:`Context.open` (or
:meth:`Context.connect`), which records whether the server saw TLS, for the TLS
check. Round trips are few: the master's connection to db_name opens with one
read-only batch (the catalog) that carries its TLS facts and those of AC1, AC6,
AC7, AC8, EXTENSIONS, pg_stat_statements, plain ISO-SIGNED and (signed mode) the
context keys; a connection opened for a batch of its own reads its TLS facts in
that batch (:meth:`Context.open`, :meth:`Context.record_tls`).

Every verify session waits for a lock at most ``verify_lock_timeout_s``, far
less than the toolkit's: the probes read every tenant table as app_user, which
may hold any of them; a check that meets a lock is ERROR, and the others run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import psycopg
from psycopg import sql

from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import sqlfiles
from tenantdb.database.tenancy.context_token import Key, KeyRing
from tenantdb.database.plumbing.master import ADMIN_DB, MasterTarget, app_address, resolve_master
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

APP_NAME = "tenantdb-verify"


@dataclass
class Connection:
    label: str
    target: str
    tls: bool
    tls_version: str


@dataclass
class Context:
    settings: Settings
    endpoint: str | None = None
    master_dsn: str | None = None
    connections: list[Connection] = field(default_factory=list)
    _open: list[psycopg.Connection] = field(default_factory=list)
    _pending: dict[int, Connection] = field(default_factory=dict)
    _keys: dict[str, str] = field(default_factory=dict)
    _secrets: dict[tuple[str, str], Any] = field(default_factory=dict)

    @property
    def via_aws(self) -> bool:
        return self.master_dsn is None

    # ----- AWS ----------------------------------------------------------------
    @cached_property
    def master(self) -> MasterTarget:
        """The master's target; through AWS from the instance the checks already described."""
        if not self.via_aws:
            return resolve_master(self.settings, master_dsn=self.master_dsn)
        s, inst = self.settings, self.instance
        ep = inst.get("Endpoint") or {}
        if not ep.get("Address"):
            raise ToolkitError(f"instance {s.instance_identifier} has no endpoint yet (status "
                               f"{inst.get('DBInstanceStatus', '?')}); wait for it to be available")
        host, port = app_address(s, self.endpoint, str(ep["Address"]), int(ep.get("Port") or s.port))
        user, password = self.aws.master_credentials(inst)
        target = db.Target(host=host, port=port, user=user, dbname=ADMIN_DB, password=password)
        return MasterTarget(target, via_aws=True, instance=inst, aws=self.aws)

    @cached_property
    def aws(self) -> Any:
        from tenantdb.aws import Aws

        return Aws(self.settings)

    @cached_property
    def instance(self) -> dict[str, Any]:
        return self.aws.instance()

    @cached_property
    def alarm_topic_arn(self) -> str | None:
        """The alarm topic's ARN (the account's topic of settings.alarm_topic_name; one ListTopics walk
        per run, however many checks read it), or None when there is none."""
        sns, name, token = self.aws.client("sns"), self.settings.alarm_topic_name, {}
        while True:
            try:
                page = sns.list_topics(**token)
            except Exception as exc:  # noqa: BLE001 - botocore errors; one line, the call named
                code = getattr(exc, "response", {}).get("Error", {}).get("Code")
                raise ToolkitError(f"sns:ListTopics: {code or exc}") from None  # no code: where it failed
            for topic in page.get("Topics", []):
                if topic["TopicArn"].rsplit(":", 1)[-1] == name:
                    return str(topic["TopicArn"])
            if not page.get("NextToken"):
                return None
            token = {"NextToken": page["NextToken"]}

    def key_arn(self, key_id: str) -> str:
        """The ARN of a KMS key given as alias, id or ARN (one DescribeKey per key per run)."""
        if key_id not in self._keys:
            try:
                meta = self.aws.kms.describe_key(KeyId=key_id)["KeyMetadata"]
            except Exception as exc:  # noqa: BLE001 - botocore errors; one line, the key named
                code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
                raise ToolkitError(f"kms:DescribeKey {key_id}: {code}") from None
            for name in (key_id, meta["Arn"], meta.get("KeyId")):  # the others name the same key
                if name:
                    self._keys[name] = meta["Arn"]
        return self._keys[key_id]

    def secret_meta(self, name: str) -> dict[str, Any]:
        """DescribeSecret of ``name``, once per run."""
        if ("meta", name) not in self._secrets:
            self._secrets["meta", name] = self.aws.describe_secret(name)
        return self._secrets["meta", name]  # type: ignore[no-any-return]  # the cache holds Any

    def secret_value(self, name: str) -> dict[str, Any]:
        """The AWSCURRENT value of ``name`` ({} when it has none yet), once per run."""
        if ("value", name) not in self._secrets:
            self._secrets["value", name] = self.aws.current_secret(name) or {}
        return self._secrets["value", name]  # type: ignore[no-any-return]  # the cache holds Any

    @cached_property
    def rds_key_arn(self) -> str:
        return self.key_arn(self.settings.kms_alias_rds)

    @cached_property
    def secrets_key_arn(self) -> str:
        return self.key_arn(self.settings.kms_alias_secrets)

    # ----- database -----------------------------------------------------------
    def connect(self, label: str, target: db.Target) -> psycopg.Connection:
        """A TLS connection, recorded with what the server says about its TLS (one round trip:
        pg_stat_ssl, pipelined) and closed by :meth:`close`."""
        conn = self.open(label, target)
        rows = db.read_only_batch(conn, [sqlfiles.named("session/tls")])[0]
        self.record_tls(conn, None if isinstance(rows, BaseException) or not rows else rows[0])
        return conn

    def open(self, label: str, target: db.Target) -> psycopg.Connection:
        """A TLS connection whose TLS facts ride on its first round trip: the caller puts
        sql/session/tls.sql into that batch and hands its row to :meth:`record_tls`. Until then the
        connection counts as TLS not shown, so the TLS check FAILs if the caller never does.

        Server-side facts (pg_stat_ssl), not libpq's ``ssl_in_use``: the TLS check proves the
        server itself sees TLS on each session (a TLS-terminating proxy in between would satisfy
        the client side alone), and reading them in a batch already made costs no round trip.
        """
        conn = db.connect(target, self.settings, application_name=APP_NAME,
                          lock_timeout_s=self.settings.verify_lock_timeout_s)
        self._open.append(conn)
        entry = Connection(label, target.describe(), False, "TLS not shown (its first query did not run)")
        self.connections.append(entry)
        self._pending[id(conn)] = entry
        return conn

    def tls_pending(self, conn: psycopg.Connection) -> bool:
        return id(conn) in self._pending

    def record_tls(self, conn: psycopg.Connection, row: dict[str, Any] | None) -> None:
        """This connection's pg_stat_ssl row (ssl, version, cipher) as read in its first batch."""
        entry = self._pending.pop(id(conn))
        entry.tls, entry.tls_version = db.tls_from(row)

    @cached_property
    def _master_session(self) -> tuple[psycopg.Connection, dict[str, Any]]:
        """The master on db_name and the catalog facts, read in that connection's first round trip."""
        target = self.master.target.with_db(self.settings.db_name)
        conn = self.open("master", target)
        return conn, self._read_catalog(conn, in_db=True)

    @cached_property
    def master_db(self) -> psycopg.Connection:
        """The master, connected to db_name (opened with the catalog's round trip, which records its TLS)."""
        return self._master_session[0]

    @cached_property
    def catalog(self) -> dict[str, Any]:
        """One round trip for AC1/AC6/AC7/AC8/EXTENSIONS' database facts, pg_stat_statements' and
        plain ISO-SIGNED's (sql/verify/catalog.sql, sql/verify/pg_stat_statements.sql).

        Read on db_name; when db_name does not exist, on the admin database (cluster-wide
        catalogs), and then the facts of db_name (extensions, pg_stat_statements, the key table)
        are None, so the checks that need them ERROR."""
        try:
            return self._master_session[1]
        except db.ConnectError as exc:
            if "does not exist" not in str(exc) or "database" not in str(exc):
                raise
        target = self.master.target
        return self._read_catalog(self.open("master", target), in_db=False)

    def _read_catalog(self, conn: psycopg.Connection, *, in_db: bool) -> dict[str, Any]:
        s = self.settings
        values = {"db": sql.Literal(s.db_name), "app": sql.Literal(s.app_role),
                  "names": sql.Literal([n for n in s.db_parameters if not n.startswith("rds.")]),
                  "extensions": sql.Literal(list(s.extensions)), "tenancy": sql.Literal(s.tenancy_schema)}
        queries = [sqlfiles.named("verify/pg_stat_statements")] if in_db else []
        queries.append(sqlfiles.named("verify/catalog", values))
        signed = in_db and s.tenant_context == "signed"
        if signed:  # last: a missing key table stops nothing else
            queries.append(sqlfiles.named("context_key/keys", {"tenancy": sql.Identifier(s.tenancy_schema)}))
        results = db.read_only_batch(conn, queries)
        rows = results[1 if in_db else 0]
        if isinstance(rows, BaseException):
            raise rows
        row = rows[0]
        self.record_tls(conn, row.pop("tls"))
        row["context_keys"] = results[-1] if signed else None
        if not in_db:
            row.update(extensions=None, offered=None, context_key_table=None, pg_stat_statements=None)
        return row

    @property
    def db_keys(self) -> KeyRing:
        """The context keys in tenancy.context_keys (signed mode), read with the catalog as the master."""
        rows = self.catalog["context_keys"]
        if isinstance(rows, BaseException):
            raise ToolkitError(f"{self.settings.tenancy_schema}.context_keys not read: {db.first_line(rows)}")
        if rows is None:
            raise ToolkitError("context keys are read in signed mode from db_name only")
        return KeyRing(tuple(Key(r["kid"], bytes(r["key"]), int(r["created_at"]),
                                 None if r["retires_at"] is None else int(r["retires_at"])) for r in rows))

    @property
    def key_ring(self) -> KeyRing:
        """The key ring to mint with (as context_key.ring), without a round trip of its own."""
        found = self.db_keys
        if not any(k.retires_at is None for k in found.keys):
            s = self.settings
            raise ToolkitError(f"{s.tenancy_schema}.context_keys has no current context key; run "
                               f"`tenantdb bootstrap --env {s.environment}` with tenant_context = \"signed\"")
        return found

    @property
    def app_secret(self) -> dict[str, Any]:
        """The connection secret's value ({} when it has none yet)."""
        return self.secret_value(self.settings.connection_secret_name)

    def app_target(self) -> db.Target:
        """app_user's target from the connection secret (the tunnel/local endpoint replaces its host)."""
        return self.login_target(self.settings.connection_secret_name)

    def login_target(self, name: str) -> db.Target:
        """The login a secret describes (the tunnel/local endpoint replaces its host); TLS as the master's."""
        sec = self.secret_value(name)
        if not sec.get("password") or not sec.get("host"):
            raise ToolkitError(f"secret {name} has no host/password; run tenantdb bootstrap")
        host, port = app_address(self.settings, self.endpoint, str(sec["host"]), int(sec.get("port") or 0))
        return self.master.target.with_address(host, port).with_login(
            str(sec.get("username")), str(sec["password"])).with_db(str(sec.get("dbname")))

    def close(self) -> None:
        for conn in self._open:
            try:
                conn.close()
            except psycopg.Error:
                pass
        self._open.clear()

