"""Resolve how to reach the database as the master user.

Two ways, chosen by the CLI options:

- ``--master-dsn URL``: a database reached by other means. Parsed here; a
  malformed one is a :class:`UsageError` (exit 2) that never echoes the
  value, which may hold a password. AWS is not touched.
- otherwise AWS: describe the instance named by the settings, take its
  address and port (replaced by ``--endpoint HOST:PORT`` or
  ``settings.db_endpoint`` for a tunnel or the local cluster) and the master
  credentials from its RDS-managed secret (MasterUserSecret).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import psycopg

from tenantdb.database.plumbing.connection import Target
from tenantdb.errors import ToolkitError, UsageError
from tenantdb.settings import Settings

if TYPE_CHECKING:
    from tenantdb.aws import Aws

ADMIN_DB = "postgres"
"""The database the master connects to before db_name exists (RDS always has it)."""

_WEAK_SSLMODES = ("disable", "allow", "prefer")


@dataclass(frozen=True)
class MasterTarget:
    """The master's connection target, and what the AWS side said about the instance."""

    target: Target
    """Connects as the master to the admin database (``postgres`` unless the DSN names one)."""
    via_aws: bool
    instance: dict[str, Any] | None = None
    aws: Aws | None = None

    @property
    def instance_address(self) -> tuple[str, int] | None:
        """The instance's real address (what the application uses), not the tunnel's."""
        if not self.instance:
            return None
        ep = self.instance.get("Endpoint") or {}
        return ep.get("Address"), int(ep.get("Port") or 0)


def parse_endpoint(value: str, source: str = "--endpoint") -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) -> (host, port); UsageError naming ``source`` otherwise."""
    text = value.strip()
    host, sep, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 1 <= int(port) <= 65535:
        raise UsageError(f"{source}={value!r}: expected HOST:PORT, e.g. 127.0.0.1:5432")
    return host, int(port)


def parse_master_dsn(dsn: str) -> Target:
    """A master DSN (URL or key=value) -> Target. Never echoes the value: it may hold a password."""
    hint = ("expected postgresql://USER:PASSWORD@HOST:PORT/DBNAME?sslmode=require or "
            "'host=... port=... user=... password=... dbname=...' (value not shown: it may hold a password)")
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.Error:
        raise UsageError(f"--master-dsn: not a valid PostgreSQL connection string; {hint}") from None
    host, user = params.get("host"), params.get("user")
    if not host or "," in str(host) or str(host).startswith("/"):
        raise UsageError(f"--master-dsn: needs exactly one TCP host (the toolkit connects over TLS); {hint}")
    if not user:
        raise UsageError(f"--master-dsn: needs a user; {hint}")
    port_text = str(params.get("port") or "5432")
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        raise UsageError(f"--master-dsn: port {port_text!r} is not a port number; {hint}")
    sslmode = str(params.get("sslmode") or "require")
    if sslmode in _WEAK_SSLMODES:
        raise UsageError(f"--master-dsn: sslmode={sslmode} is not allowed; the toolkit connects over TLS only "
                         "(use require, verify-ca or verify-full)")
    return Target(host=str(host), port=int(port_text), user=str(user), dbname=str(params.get("dbname") or ADMIN_DB),
                  password=params.get("password"), sslmode=sslmode, sslrootcert=params.get("sslrootcert"))


def resolve_master(settings: Settings, *, endpoint: str | None = None,
                   master_dsn: str | None = None) -> MasterTarget:
    """The master's target: from the DSN, or from AWS (instance, endpoint override, master secret)."""
    if master_dsn is not None:
        return MasterTarget(parse_master_dsn(master_dsn), via_aws=False)
    override = _override(settings, endpoint)  # validate input before any AWS call
    from tenantdb.aws import Aws

    aws = Aws(settings)
    inst = aws.instance()
    ep = inst.get("Endpoint") or {}
    host, port = override or (ep.get("Address"), int(ep.get("Port") or settings.port))
    if not host:
        raise ToolkitError(f"instance {settings.instance_identifier} has no endpoint yet (status "
                           f"{inst.get('DBInstanceStatus', '?')}); wait for it to be available")
    user, password = aws.master_credentials(inst)
    target = Target(host=host, port=port, user=user, dbname=ADMIN_DB, password=password)
    return MasterTarget(target, via_aws=True, instance=inst, aws=aws)


def app_address(settings: Settings, endpoint: str | None, secret_host: str, secret_port: int) -> tuple[str, int]:
    """Where to reach the database as app_user: the tunnel/local endpoint if any, else the secret's address."""
    return _override(settings, endpoint) or (secret_host, secret_port)


def _override(settings: Settings, endpoint: str | None) -> tuple[str, int] | None:
    if endpoint:
        return parse_endpoint(endpoint, "--endpoint")
    if settings.db_endpoint:
        return parse_endpoint(settings.db_endpoint, "settings db_endpoint")
    return None
