"""The settings of the toolkit itself: how it reaches AWS and the database, the limits of its own
sessions (the threat model: availability), the tools it runs and the local environment.

A group of fields :class:`tenantdb.settings.Settings` is made of; never built on its own. Where AWS
is an emulator (local), ``Settings`` derives ``aws_endpoint_url``, ``db_endpoint`` and
``retry_budget_s`` from these fields (``derived_defaults``).

Ground floor: this module imports only ground-floor modules (settings_rules).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tenantdb.settings_rules import FieldError


class ToolkitSettings(BaseModel):
    """Endpoints, retries, the toolkit's timeouts, tool paths, the access stack and the local environment."""

    # ----- how the toolkit reaches things -----------------------------------
    aws_endpoint_url: str | None = None
    """One endpoint for every AWS API (an emulator). @default none (real AWS); the local state for local."""

    db_endpoint: str | None = None
    """HOST:PORT replacing the instance address (tunnel, local cluster).
    @default none @see `--endpoint`, docs/runbook.md."""

    ca_bundle: str | None = None
    """CA bundle for sslmode=verify-full. @default none (sslmode=require) @see AWS RDS SSL."""

    connect_timeout_s: int = Field(5, ge=1, le=120)
    """Per-attempt connect timeout. @default 5 @see docs/faults.md (retries)."""

    retry_budget_s: float = Field(30.0, ge=0, le=900)
    """Total time spent retrying transient connection failures. @default 30 @see docs/faults.md (retries), Story 1.3."""

    # ----- the toolkit's own sessions (the threat model: availability) -----
    toolkit_lock_timeout_s: float = Field(10.0, gt=0, le=300)
    """``lock_timeout`` of every toolkit session, set in the startup packet beside the pinned search_path
    (before any statement): a lock someone else holds (app_user's ``LOCK TABLE``, a long transaction)
    makes the toolkit's statement give up with one line naming the holder instead of waiting without
    limit, and a toolkit DDL statement stops queueing the application's queries behind its own wait.
    Inside its tenant transactions `tenantdb migrate` waits 60 s instead (sql/migrate/begin.sql).
    @default 10 (what `tenant drop` already allowed itself) @see the threat model (availability)."""

    toolkit_statement_timeout_s: float = Field(600.0, ge=60, le=86400)
    """``statement_timeout`` of every toolkit session (startup packet, as above): no statement of the
    toolkit runs or waits without limit. At least 60 s, the longest lock wait the toolkit allows itself
    (a tenant's migration lock). @default 600 (the longest toolkit statement measured, the posture query
    at 5,000 tenants, takes 8 s; tenant migrations get ``migrate_statement_timeout_s``)
    @see the threat model (availability), docs/performance.md."""

    verify_lock_timeout_s: float = Field(1.0, gt=0, le=60)
    """``lock_timeout`` of verify's sessions, shorter than the toolkit's: its probes read every tenant
    table as app_user, each many times, and app_user may hold any of them with ``LOCK TABLE ... IN ACCESS
    EXCLUSIVE MODE``; a check that meets such a lock is ERROR naming the table and the holder, soon, and
    every other check still runs. @default 1 @see the threat model (availability), Story 0.4 AC10."""

    bootstrap_wait_s: float = Field(300.0, gt=0, le=3600)
    """How long a bootstrap waits for another bootstrap of the same database (the lock table
    ``<tenancy_schema>.bootstrap_lock``, which only the master can lock), then fails in one line naming
    the holder's role and pid. Below ``toolkit_statement_timeout_s``. @default 300 (a bootstrap takes
    seconds) @see docs/runbook.md (bootstrap)."""

    migrate_statement_timeout_s: float = Field(3600.0, ge=60, le=86400)
    """``statement_timeout`` inside each tenant's migration transaction, where a revision may rebuild
    an index or backfill a large table; at least ``toolkit_statement_timeout_s``. @default 3600
    @see Story 1.3 (Alembic migrations), docs/migrations.md."""

    provider_mirror: str = "/opt/tf-plugins"
    """Terraform provider filesystem mirror root.
    @default "/opt/tf-plugins" (where this kind of build machine keeps hashicorp/aws 5.100.0)
    @see docs/architecture.md (offline provider mirror)."""

    checkov_path: str = ".tools/checkov/bin/checkov"
    """The checkov the policy gate of `tenantdb check` runs (project-relative or absolute; installed by
    scripts/setup from tools-requirements.txt). @default ".tools/checkov/bin/checkov"
    @see policy/checkov.toml, docs/security.md (policy gate)."""

    access_stack: bool = False
    """Manage roles and grants with the access stack ``<project>-access-<env>`` (Terraform postgresql
    provider): `tenantdb synth` writes it, and `tenantdb bootstrap` then leaves roles and grants to it
    (skipped steps say so). Off by default: applying it needs network reach to the database.
    @default false @see docs/access.md."""

    local_state_dir: str = ".tenantdb/local"
    """Where the local environment keeps pids, ports, the cluster and state (project-relative).
    @default ".tenantdb/local" @see docs/local.md."""

    local_moto_port: int = Field(4599, ge=1024, le=65535)
    """Loopback port of the local moto server. @default 4599 @see docs/local.md."""

    local_postgres_port: int = Field(54329, ge=1024, le=65535)
    """Loopback port of the local PostgreSQL cluster. @default 54329 @see docs/local.md."""

    # ----- cross-field rules (Settings runs them, in the order it reports them) -----
    def _local_ports_differ(self) -> None:
        if self.local_moto_port == self.local_postgres_port:
            raise FieldError("local_postgres_port", self.local_postgres_port,
                             f"must differ from local_moto_port ({self.local_moto_port}): the emulator and the "
                             "cluster cannot share a port")

    def _timeouts_consistent(self) -> None:
        """Each wait the toolkit allows itself ends before the statement that waits is cancelled."""
        statement = self.toolkit_statement_timeout_s
        if self.toolkit_lock_timeout_s >= statement:
            raise FieldError("toolkit_lock_timeout_s", self.toolkit_lock_timeout_s,
                             f"must be below toolkit_statement_timeout_s ({statement:g})")
        if self.verify_lock_timeout_s > self.toolkit_lock_timeout_s:
            raise FieldError("verify_lock_timeout_s", self.verify_lock_timeout_s,
                             f"must be at most toolkit_lock_timeout_s ({self.toolkit_lock_timeout_s:g})")
        if self.bootstrap_wait_s >= statement:
            raise FieldError("bootstrap_wait_s", self.bootstrap_wait_s,
                             f"must be below toolkit_statement_timeout_s ({statement:g})")
        if self.migrate_statement_timeout_s < statement:
            raise FieldError("migrate_statement_timeout_s", self.migrate_statement_timeout_s,
                             f"must be at least toolkit_statement_timeout_s ({statement:g})")
