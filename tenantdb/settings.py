"""Typed environments: the single source of truth for every stack, the
bootstrap and the verifier.

Every field says its default and the requirement it serves, the way AWS CDK's
props carry ``@default`` and ``@see``. Values come from three layers, later
ones winning:

1. the defaults of the fields (Story 0.4's values), declared by concern in
   the groups :class:`Settings` is made of: settings_instance.py (the RDS
   instance and its parameter group), settings_database.py (the database and
   its roles), settings_deploy.py (secrets, network inputs, state, CI),
   settings_toolkit.py (the toolkit's endpoints, timeouts and local
   environment), settings_tenancy.py (tenant context, extensions, migrations),
   settings_alarms.py (what pages, and when);
   the defaults built from other fields (``"<project>-tfstate-<env>"``) are
   derived here, in :func:`derived_defaults`, however a Settings is built;
2. the per-environment profile in :data:`PROFILES` (what differs between
   local, dev, staging and prod);
3. an optional TOML overlay named by ``--settings FILE`` or the
   ``TENANTDB_SETTINGS`` environment variable, with one table per
   environment (``[prod]`` ... ``multi_az = false``).

Invalid values are rejected when loaded, with one line that names the
environment, the field, the bad value and what is allowed
(:class:`SettingsError`). A changed copy is made with
:meth:`Settings.replaced`, which validates it the same way.

Ground floor: this module imports only ground-floor modules: the settings' own
(settings_*.py) and aws_reference.py.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, ValidationError, ValidatorFunctionWrapHandler, model_validator

from tenantdb import aws_reference
from tenantdb.settings_alarms import AlarmSettings
from tenantdb.settings_database import DatabaseSettings
from tenantdb.settings_deploy import DeploySettings
from tenantdb.settings_instance import InstanceSettings
from tenantdb.settings_rules import FieldError, SettingsError
from tenantdb.settings_tenancy import TenancySettings
from tenantdb.settings_toolkit import ToolkitSettings

__all__ = ["ENVIRONMENTS", "PROFILES", "SETTINGS_ENV_VAR", "Settings", "SettingsError", "derived_defaults",
           "load", "load_all", "overlay_path", "read_overlay"]

ENVIRONMENTS: tuple[str, ...] = ("local", "dev", "staging", "prod")
"""Every environment the toolkit knows, in deployment order."""

SETTINGS_ENV_VAR = "TENANTDB_SETTINGS"
"""Environment variable naming a TOML overlay file (same as ``--settings``)."""


# The groups, last first: pydantic orders the fields from the last base to the first, so the
# instance's come first (environment, project, ...) and the tenancy's last, and a validator that
# reads an earlier field (extensions reads engine_major) finds it validated.
class Settings(AlarmSettings, TenancySettings, ToolkitSettings, DeploySettings, DatabaseSettings, InstanceSettings):
    """One environment's settings. Frozen: read it, never mutate it; :meth:`replaced` makes a changed,
    validated copy."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    # ----- defaults built from other fields (one place, however it is built) -----
    @model_validator(mode="wrap")
    @classmethod
    def _derive(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Settings:
        """Fill :func:`derived_defaults` for what the caller left out, and keep them out of
        ``model_fields_set``: it holds what was given, so :meth:`replaced` derives the rest again."""
        if not isinstance(data, Mapping):
            return handler(data)
        derived = {k: v for k, v in derived_defaults(data).items() if k not in data}
        built: Settings = handler({**data, **derived})
        built.__pydantic_fields_set__.difference_update(derived)
        return built

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        """The rules across fields, in the order a broken one is reported."""
        self._storage_fits()
        self._master_not_a_default_name()
        self._local_ports_differ()
        roles = [self.app_role, self.migrator_role, self.platform_admin_role, self.master_username,
                 self.reporting_role]
        if len(set(roles)) != len(roles):
            raise FieldError("app_role", self.app_role,
                             "app_role, migrator_role, platform_admin_role, reporting_role "
                             "and master_username must differ")
        self._app_role_not_an_admin()
        self._timeouts_consistent()
        self._windows_apart()
        return self

    def replaced(self, **changes: Any) -> Settings:
        """A copy with ``changes``, validated as :func:`load` validates: a bad value raises
        :class:`SettingsError`'s one line. What was set stays set; a default built from other fields
        (``state_bucket``, local's ``db_endpoint``, ...) that was not set is derived again from the
        new values. Use it, never ``model_copy(update=...)``, which validates nothing."""
        values = {name: getattr(self, name) for name in self.model_fields_set}
        values.update(changes)
        return _validated(str(values.get("environment")), values)

    # ----- derived names (one place, so nothing restates them) --------------
    def _stack_name(self, part: str) -> str:
        """``<project>-<part>-<env>``: every stack's id."""
        return f"{self.project}-{part}-{self.environment}"

    @property
    def stack_id(self) -> str:
        """The database stack id, ``<project>-db-<env>``."""
        return self._stack_name("db")

    @property
    def network_stack_id(self) -> str:
        """The local network stand-in stack id."""
        return self._stack_name("network")

    @property
    def access_stack_id(self) -> str:
        """The declarative access stack id (docs/access.md)."""
        return self._stack_name("access")

    @property
    def instance_identifier(self) -> str:
        """The RDS instance identifier: the database stack's id, ``<project>-db-<env>``."""
        return self.stack_id

    @property
    def parameter_group_family(self) -> str:
        """Parameter group family derived from the major version (task 3.1)."""
        return f"postgres{self.engine_major}"

    @property
    def parameter_group_name(self) -> str:
        """``qualisys-postgres15-<env>``: task 3.1's name, suffixed to be unique per environment."""
        return f"{self.project}-{self.parameter_group_family}-{self.environment}"

    @property
    def kms_alias_rds(self) -> str:
        return f"alias/{self.project}-{self.environment}-rds"

    @property
    def kms_alias_secrets(self) -> str:
        return f"alias/{self.project}-{self.environment}-secrets"

    @property
    def monitoring_role_name(self) -> str:
        return f"{self.project}-{self.environment}-rds-monitoring"

    @property
    def irsa_policy_name(self) -> str:
        return f"{self.project}-{self.environment}-db-connection-read"

    @property
    def rotation_function_name(self) -> str:
        """The Lambda function the rotation application creates (its ``functionName`` parameter)."""
        return f"{self.project}-{self.environment}-db-secret-rotation"

    @property
    def rotation_security_group_name(self) -> str:
        return f"{self.project}-{self.environment}-db-secret-rotation"

    @property
    def emulator_left_out(self) -> dict[str, str]:
        """Resource types this environment's stacks leave out, with why:
        :data:`tenantdb.aws_reference.EMULATOR_UNSUPPORTED` where AWS is an emulator (``aws_endpoint_url``),
        nothing on real AWS."""
        return dict(aws_reference.EMULATOR_UNSUPPORTED) if self.aws_endpoint_url else {}

    @property
    def log_group_names(self) -> tuple[str, ...]:
        """The log groups RDS exports to (created by the stack so they are encrypted and retained)."""
        return tuple(f"/aws/rds/instance/{self.instance_identifier}/{log}" for log in self.log_exports)


def derived_defaults(values: Mapping[str, Any]) -> dict[str, Any]:
    """The defaults built from other fields, for the environment ``values`` names: the network layer's
    SSM parameters, the state bucket and key and, for local, the emulator and cluster endpoints and a
    shorter retry budget. :class:`Settings` fills whichever of them ``values`` leaves out."""
    env = values.get("environment")
    if env not in ENVIRONMENTS:
        return {}  # the environment field itself reports it
    fields = Settings.model_fields
    project = values.get("project", fields["project"].default)
    out: dict[str, Any] = {
        "ssm_db_subnet_group_param": f"/{project}/{env}/network/db_subnet_group_name",
        "ssm_security_group_param": f"/{project}/{env}/network/rds_security_group_id",
        "state_bucket": f"{project}-tfstate-{env}",
        "state_key": f"tenantdb/{env}/terraform.tfstate",
    }
    if env == "local":
        port = values.get("local_moto_port", fields["local_moto_port"].default)
        pg_port = values.get("local_postgres_port", fields["local_postgres_port"].default)
        out |= {"aws_endpoint_url": f"http://127.0.0.1:{port}", "db_endpoint": f"127.0.0.1:{pg_port}",
                "retry_budget_s": 10.0}
    return out


# What differs between environments. Everything else is the defaults above.
PROFILES: dict[str, dict[str, Any]] = {
    # local: dev's values, AWS endpoints pointed at the local emulator (docs/local.md);
    # "postgres" is the stand-in cluster's initdb superuser, playing RDS's rdsadmin.
    "local": {"aws_internal_roles": ("rdsadmin", "rdsrepladmin", "rdstopmgr", "postgres"),
              "sample_tenants": ("acme", "globex"), "tenant_migrations": "migrations/tenant"},
    "dev": {},
    "staging": {},
    "prod": {
        "instance_class": "db.r5.large",
        "multi_az": True,
        "allocated_storage_gb": 100,
        "max_allocated_storage_gb": 500,
        "deletion_protection": True,
        "final_snapshot": True,
        "prevent_destroy": True,
    },
}


def overlay_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The TOML overlay in force: ``--settings FILE``, else ``$TENANTDB_SETTINGS``, else none."""
    chosen = explicit or os.environ.get(SETTINGS_ENV_VAR)
    return Path(chosen) if chosen else None


def read_overlay(path: Path | None) -> dict[str, dict[str, Any]]:
    """Read the overlay: one table per environment. Unknown tables are errors."""
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise SettingsError(f"settings file {path}: not found; pass an existing TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"settings file {path}: not valid TOML ({exc})") from None
    for env, table in data.items():
        if env not in ENVIRONMENTS:
            raise SettingsError(f"settings file {path}: unknown environment [{env}]; "
                                f"use one of {', '.join(ENVIRONMENTS)}")
        if not isinstance(table, dict):
            raise SettingsError(f"settings file {path}: [{env}] must be a table of field = value")
    return data


def load(env: str, overlay: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Load one environment's settings: defaults, profile, overlay file, then ``overrides``.

    Raises :class:`SettingsError` with a one-line message on any invalid value.
    """
    if env not in ENVIRONMENTS:
        raise SettingsError(f"environment {env!r}: unknown; use one of {', '.join(ENVIRONMENTS)}")
    values: dict[str, Any] = dict(PROFILES[env])
    values.update(read_overlay(overlay_path(overlay)).get(env, {}))
    values.update(overrides)
    return _validated(env, dict(environment=env, **values))


def load_all(overlay: str | os.PathLike[str] | None = None) -> list[Settings]:
    """Every environment, in deployment order."""
    return [load(env, overlay) for env in ENVIRONMENTS]


def _validated(env: str, values: dict[str, Any]) -> Settings:
    """``Settings(**values)``, or :class:`SettingsError`'s one line naming the first bad value."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError(_one_line(env, exc, values)) from None
    except FieldError as exc:  # pragma: no cover - pydantic wraps it; kept for safety
        raise SettingsError(f"{env}: {exc.field}={exc.value!r}: {exc.rule}") from None


def _one_line(env: str, exc: ValidationError, values: dict[str, Any]) -> str:
    err = exc.errors()[0]
    ctx_err = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_err, FieldError):
        return f"{env}: {ctx_err.field}={ctx_err.value!r}: {ctx_err.rule}"
    field = ".".join(str(p) for p in err["loc"]) or "settings"
    if err["type"] == "extra_forbidden":
        return f"{env}: {field}: unknown setting; check the spelling against the fields in tenantdb/settings_*.py"
    value = values.get(field, err.get("input"))
    msg = err["msg"].removeprefix("Value error, ")
    return f"{env}: {field}={value!r}: {msg}"
