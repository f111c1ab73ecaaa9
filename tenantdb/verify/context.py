"""What the checks share: the settings, the AWS look-ups and the database
connections, each made once and only when a check needs it.

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
from tenantdb.database.master import MasterTarget, app_address, resolve_master
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

    @property
    def via_aws(self) -> bool:
        return self.master_dsn is None

    # ----- AWS ----------------------------------------------------------------
    @cached_property
    def master(self) -> MasterTarget:
        return resolve_master(self.settings, endpoint=self.endpoint, master_dsn=self.master_dsn)

    @cached_property
    def aws(self) -> Any:
        from tenantdb.aws import Aws

        return Aws(self.settings)

    @cached_property
    def instance(self) -> dict[str, Any]:
        return self.aws.instance()

    def key_arn(self, key_id: str) -> str:
        """The ARN of a KMS key given as alias, id or ARN."""
        try:
            return self.aws.kms.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        except Exception as exc:  # noqa: BLE001 - botocore errors; one line, the key named
            code = getattr(exc, "response", {}).get("Error", {}).get("Code", type(exc).__name__)
            raise ToolkitError(f"kms:DescribeKey {key_id}: {code}") from None

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

    @cached_property
    def app_secret(self) -> dict[str, Any]:
        """The connection secret's value ({} when it has none yet)."""
        name = self.settings.connection_secret_name
        return self.aws.secret_json(name) if self.aws.secret_has_value(name) else {}

    def app_target(self) -> db.Target:
        """app_user's target from the connection secret (the tunnel/local endpoint replaces its host)."""
        sec = self.app_secret
        if not sec.get("password") or not sec.get("host"):
            raise ToolkitError(f"secret {self.settings.connection_secret_name} has no host/password; "
                               "run tenantdb bootstrap")
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
