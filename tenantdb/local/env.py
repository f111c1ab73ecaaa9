"""`tenantdb local env`: the shell exports that work against the running local environment.

``eval "$(tenantdb local env)"`` sets, for one role (``--role app``, the default, or ``migrator``):

- libpq's variables for the local cluster (the instance's stand-in): PGHOST, PGPORT,
  PGDATABASE, PGUSER, PGSSLMODE=verify-full with PGSSLROOTCERT (the cluster's certificate),
  PGOPTIONS (the secret's ``options``: search_path pinned at connect time, so a role-level
  search_path app_user planted cannot reach these sessions), and DATABASE_URL, the same
  without a password (as the secret's ``uri``);
- PGPASSWORD as a command substitution that reads the secret's AWSCURRENT password when the
  shell evaluates it: the password is never in this output, in the shell history or in argv;
- what ``npx cdktf diff|deploy|destroy`` need against the emulator: TENANTDB_SETTINGS (the
  overlay, if any), TF_CLI_CONFIG_FILE (the provider mirror), CHECKPOINT_DISABLE, the
  emulator's endpoint and its dummy credentials (``testing``: an emulator accepts any, real
  AWS none), the region, no EC2 metadata look-up, and the JSII banner silencers;
- what docs/runbook.md's story commands name: TENANTDB_ENV=local (which the toolkit's commands
  also take as their --env) and MASTER_SECRET_ARN, the ARN of the instance's RDS-managed master
  secret (the ``master_secret_arn`` output on AWS; its password is read only when a command asks).

``--password`` prints only the password, for that command substitution; it refuses a terminal.
The local secret holds the instance's endpoint name, which does not resolve here: the
addresses come from ``settings.db_endpoint`` (where `local up` put the cluster).
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from tenantdb.errors import ToolkitError, UsageError
from tenantdb.infra.terraform import QUIET_NODE_ENV
from tenantdb.settings import SETTINGS_ENV_VAR, Settings

ROLES = ("app", "migrator")

EMULATOR_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
"""What an emulator accepts; not a secret (tenantdb.infra.apply uses the same for Terraform)."""

QUIET_JSII = QUIET_NODE_ENV  # the name callers of this module know


def role_and_secret(s: Settings, role: str) -> tuple[str, str]:
    if role not in ROLES:
        raise UsageError(f"--role {role!r}: use one of {', '.join(ROLES)}")
    return (s.app_role, s.connection_secret_name) if role == "app" else (s.migrator_role, s.migrator_secret_name)


def exports(s: Settings, role: str = "app", overlay: str | os.PathLike[str] | None = None) -> str:
    """The export lines (a shell script for eval). Raises ToolkitError when the environment is not up."""
    from urllib.parse import quote

    from tenantdb.database.bootstrap.app_secrets import OPTIONS
    from tenantdb.database.plumbing.master import parse_endpoint
    from tenantdb.infra import terraform
    from tenantdb.local.pipeline import POSTGRES, describe
    from tenantdb.local.postgres import Cluster
    from tenantdb.local.state import state_dir

    user, secret = role_and_secret(s, role)
    info = describe(s)
    down = [name for name, proc in info["processes"].items() if not proc["running"]]
    if down:
        raise ToolkitError(f"local environment: {', '.join(down)} not running; run `tenantdb local up` first")
    if info["moved"]:
        raise ToolkitError(f"local environment: {'; '.join(info['moved'])}; run `tenantdb local down` with the "
                           "settings it was started with, or set the port back")
    host, port = parse_endpoint(s.db_endpoint or "", "settings db_endpoint")
    ca = Cluster(state_dir(s.local_state_dir) / POSTGRES, port, host=host).ca_file
    overlay = overlay or os.environ.get(SETTINGS_ENV_VAR)
    db: dict[str, str] = {
        "PGHOST": host, "PGPORT": str(port), "PGDATABASE": s.db_name, "PGUSER": user,
        "PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(ca), "PGOPTIONS": OPTIONS,
        "DATABASE_URL": (f"postgresql://{user}@{host}:{port}/{s.db_name}?sslmode=verify-full&sslrootcert={ca}"
                         f"&options={quote(OPTIONS, safe='')}"),
    }
    aws: dict[str, str] = {
        **({SETTINGS_ENV_VAR: str(Path(overlay).resolve())} if overlay else {}),
        "TF_CLI_CONFIG_FILE": str(terraform.ensure_cli_config(s.provider_mirror)),
        "CHECKPOINT_DISABLE": "1",
        # cdktf otherwise points Terraform's plugin cache into the user's home (~/.terraform.d).
        # The provider comes linked from the mirror; a shared cache would race concurrent inits.
        "CDKTF_DISABLE_PLUGIN_CACHE_ENV": "1",
        "AWS_ENDPOINT_URL": str(s.aws_endpoint_url), **EMULATOR_CREDENTIALS,
        "AWS_REGION": s.region, "AWS_DEFAULT_REGION": s.region, "AWS_EC2_METADATA_DISABLED": "true",
        **QUIET_JSII,
        "TENANTDB_ENV": s.environment, "MASTER_SECRET_ARN": _master_secret_arn(s),
    }
    reveal = [sys.executable, "-m", "tenantdb.cli", *(["--settings", str(Path(overlay).resolve())] if overlay else []),
              "local", "env", "--password", "--role", role]
    lines = [f"# tenantdb local env: {user} on the local cluster, and npx cdktf against the emulator",
             f'# eval "$(tenantdb local env)"; the password is read from {secret} when the shell evaluates this']
    lines += [f"export {k}={shlex.quote(v)}" for k, v in db.items()]
    lines.append(f'export PGPASSWORD="$({shlex.join(reveal)})"')
    lines += [f"export {k}={shlex.quote(v)}" for k, v in aws.items()]
    return "\n".join(lines) + "\n"


def _master_secret_arn(s: Settings) -> str:
    from tenantdb.aws import Aws

    arn = (Aws(s).instance().get("MasterUserSecret") or {}).get("SecretArn")
    if not arn:
        raise ToolkitError(f"instance {s.instance_identifier} has no RDS-managed master secret; "
                           "run `tenantdb local up` again")
    return str(arn)


def password(s: Settings, role: str = "app") -> str:
    """The role's AWSCURRENT password, for a command substitution only (never to a terminal)."""
    from tenantdb.aws import Aws

    _, secret = role_and_secret(s, role)
    if sys.stdout.isatty():
        raise UsageError("local env --password: refusing to print a password to a terminal; use it in "
                         '$(...), as `eval "$(tenantdb local env)"` does')
    value = Aws(s).secret_json(secret).get("password")
    if not isinstance(value, str) or not value:
        raise ToolkitError(f"secret {secret} has no password; run `tenantdb local up` (it bootstraps)")
    return value
