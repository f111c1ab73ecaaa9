"""How the access stack's postgresql provider reaches the database, without a password in Terraform.

The host and port are looked up from the instance itself (``data.aws_db_instance``
by identifier): the database stack's outputs live in another state, and a data
source avoids wiring remote state between stacks. ``settings.db_endpoint``
(a tunnel, the local cluster) replaces the look-up.

The provider logs in as the master user. Its password is NOT in the
configuration: the provider reads ``PGPASSWORD`` from the environment of
``terraform plan``/``apply`` (docs/access.md shows how to fill it from the
RDS-managed master secret), and a provider's configuration is never written
to state. IAM authentication (``aws_rds_iam_auth``) would need no password at
all, but on RDS a role granted ``rds_iam`` can no longer log in with a
password, and the bootstrap and RDS's managed rotation use the master's
password: docs/access.md explains the trade.
"""

from __future__ import annotations

from dataclasses import dataclass

from stacks.cdk import Construct, DataAwsDbInstance, PostgresqlProvider, named
from tenantdb.settings import Settings


@dataclass(frozen=True)
class ConnectionProps:
    settings: Settings


def add_postgresql_provider(scope: Construct, props: ConnectionProps) -> PostgresqlProvider:
    s = props.settings
    if s.db_endpoint:
        host, _, port = s.db_endpoint.rpartition(":")
        address: tuple[str, float] = (host, int(port))
    else:
        instance = named(DataAwsDbInstance(scope, "instance", db_instance_identifier=s.instance_identifier),
                         "instance")
        address = (instance.address, instance.port)
    tls = dict(sslmode="verify-full", sslrootcert=s.ca_bundle) if s.ca_bundle else dict(sslmode="require")
    return PostgresqlProvider(
        scope, "postgresql",
        host=address[0],
        port=address[1],
        database=s.db_name,
        username=s.master_username,
        # The RDS master is not a superuser: the provider must not try superuser-only statements.
        superuser=False,
        expected_version=str(s.engine_major),
        connect_timeout=s.connect_timeout_s,
        **tls,
    )
