"""What the checks share: the settings, the AWS look-ups and the database
connections, each made once and only when a check needs it (every AWS call
once per run: the instance, each key, each secret's metadata and value).

Every look-up that fails raises; :func:`tenantdb.report.run_check` turns that
into ERROR for the check that asked, so a failure never becomes a PASS.
Every database connection goes through :meth:`Context.connect`, which records
whether the server saw TLS, for the TLS check.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import psycopg

from tenantdb.database import connection as db
from tenantdb.database.master import ADMIN_DB, MasterTarget, app_address, resolve_master
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
        """A TLS connection, recorded (with what the server says about its TLS) and closed by :meth:`close`."""
        conn = db.connect(target, self.settings, application_name=APP_NAME)
        self._open.append(conn)
        on, version = db.tls_info(conn)
        conn.rollback()
        self.connections.append(Connection(label, target.describe(), on, version))
        return conn

    @cached_property
    def admin(self) -> psycopg.Connection:
        """The master, connected to the admin database (cluster-wide catalogs; works before db_name exists)."""
        return self.connect("master", self.master.target)

    @cached_property
    def master_db(self) -> psycopg.Connection:
        """The master, connected to db_name."""
        return self.connect("master", self.master.target.with_db(self.settings.db_name))

    @cached_property
    def catalog(self) -> dict[str, Any]:
        """One round trip for AC1/AC6/AC7/AC8's database facts."""
        s = self.settings
        names = [n for n in s.db_parameters if not n.startswith("rds.")]
        row = db.fetch_one_dict(self.admin, _CATALOG, {"db": s.db_name, "app": s.app_role, "names": names})
        self.admin.rollback()
        assert row is not None
        return row

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


_CATALOG = """
SELECT current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       (SELECT json_object_agg(name, json_build_object('setting', setting, 'unit', unit))
          FROM pg_settings WHERE name = ANY(%(names)s)) AS settings,
       EXISTS (SELECT FROM pg_database WHERE datname = %(db)s) AS db_exists,
       (SELECT row_to_json(r) FROM (
          SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication
          FROM pg_roles WHERE rolname = %(app)s) r) AS app_role,
       CASE WHEN EXISTS (SELECT FROM pg_roles WHERE rolname = %(app)s)
             AND EXISTS (SELECT FROM pg_database WHERE datname = %(db)s)
            THEN json_build_object(
              'CONNECT', has_database_privilege(%(app)s, %(db)s, 'CONNECT'),
              'CREATE', has_database_privilege(%(app)s, %(db)s, 'CREATE'),
              'TEMPORARY', has_database_privilege(%(app)s, %(db)s, 'TEMPORARY')) END AS app_db_privileges
"""
