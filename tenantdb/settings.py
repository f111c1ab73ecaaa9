"""Typed environments: the single source of truth for every stack, the
bootstrap and the verifier.

Every field says its default and the requirement it serves, the way AWS CDK's
props carry ``@default`` and ``@see``. Values come from three layers, later
ones winning:

1. the defaults below (Story 0.4's values);
2. the per-environment profile in :data:`PROFILES` (what differs between
   local, dev, staging and prod);
3. an optional TOML overlay named by ``--settings FILE`` or the
   ``TENANTDB_SETTINGS`` environment variable, with one table per
   environment (``[prod]`` ... ``multi_az = false``).

Invalid values are rejected when loaded, with one line that names the
environment, the field, the bad value and what is allowed
(:class:`SettingsError`).

Ground floor: this module imports nothing of the project's.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from tenantdb.errors import UsageError

ENVIRONMENTS: tuple[str, ...] = ("local", "dev", "staging", "prod")
"""Every environment the toolkit knows, in deployment order."""

SETTINGS_ENV_VAR = "TENANTDB_SETTINGS"
"""Environment variable naming a TOML overlay file (same as ``--settings``)."""

# Memory per instance class in GiB, from the RDS instance class tables.
# @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html
# It decides the expected shared_buffers (AC6: 25% of instance memory) and
# rejects classes the toolkit cannot reason about.
INSTANCE_CLASS_MEMORY_GIB: dict[str, int] = {
    "db.t3.micro": 1, "db.t3.small": 2, "db.t3.medium": 4, "db.t3.large": 8,
    "db.t3.xlarge": 16, "db.t3.2xlarge": 32,
    "db.t4g.micro": 1, "db.t4g.small": 2, "db.t4g.medium": 4, "db.t4g.large": 8,
    "db.t4g.xlarge": 16, "db.t4g.2xlarge": 32,
    "db.m5.large": 8, "db.m5.xlarge": 16, "db.m5.2xlarge": 32, "db.m5.4xlarge": 64,
    "db.m6g.large": 8, "db.m6g.xlarge": 16, "db.m6g.2xlarge": 32,
    "db.m6i.large": 8, "db.m6i.xlarge": 16, "db.m6i.2xlarge": 32,
    "db.m7g.large": 8, "db.m7g.xlarge": 16, "db.m7g.2xlarge": 32,
    "db.r5.large": 16, "db.r5.xlarge": 32, "db.r5.2xlarge": 64, "db.r5.4xlarge": 128,
    "db.r6g.large": 16, "db.r6g.xlarge": 32, "db.r6g.2xlarge": 64,
    "db.r6i.large": 16, "db.r6i.xlarge": 32, "db.r6i.2xlarge": 64,
    "db.r7g.large": 16, "db.r7g.xlarge": 32, "db.r7g.2xlarge": 64,
}

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_MAINT = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$"
)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Secrets Manager names: 1-512 of letters, digits and /_+=.@-
# @see https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
_SECRET_NAME = re.compile(r"^[A-Za-z0-9/_+=.@-]{1,512}$")
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{1,30}$")
# @see https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_identifiers.html#identifiers-arns
_ROLE_ARN = re.compile(r"^arn:aws(-[a-z]+)*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]{1,512}$")


EMULATOR_UNSUPPORTED: dict[str, str] = {
    "aws_serverlessapplicationrepository_cloudformation_stack":
        "moto has no Serverless Application Repository (and its Lambda needs docker to run the function)",
    "aws_secretsmanager_secret_rotation":
        "needs the rotation function above; RotateSecret would invoke it",
}
"""The one list of Terraform resource types the stacks leave out where AWS is an emulator, and why.
Everything else is applied to the emulator exactly as to AWS. @see docs/local.md, docs/security.md."""


RDS_EXTENSIONS: dict[int, frozenset[str]] = {15: frozenset({
    # PostgreSQL's contrib modules RDS offers
    "amcheck", "autoinc", "bloom", "btree_gin", "btree_gist", "citext", "cube", "dblink", "dict_int",
    "dict_xsyn", "earthdistance", "fuzzystrmatch", "hstore", "insert_username", "intagg", "intarray",
    "isn", "lo", "ltree", "moddatetime", "old_snapshot", "pageinspect", "pg_buffercache",
    "pg_freespacemap", "pg_prewarm", "pg_stat_statements", "pg_trgm", "pg_visibility", "pg_walinspect",
    "pgcrypto", "pgrowlocks", "pgstattuple", "plperl", "plpgsql", "pltcl", "postgres_fdw", "refint",
    "seg", "sslinfo", "tablefunc", "tcn", "tsm_system_rows", "tsm_system_time", "unaccent", "uuid-ossp",
    "bool_plperl", "hstore_plperl", "jsonb_plperl",
    # third-party extensions RDS packages
    "address_standardizer", "address_standardizer_data_us", "aws_commons", "aws_lambda", "aws_s3",
    "h3", "h3_postgis", "hll", "hypopg", "ip4r", "log_fdw", "mysql_fdw", "oracle_fdw", "orafce", "pg_bigm",
    "pg_cron", "pg_hint_plan", "pg_partman", "pg_proctab", "pg_repack", "pg_similarity", "pg_tle",
    "pg_transport", "pgactive", "pgaudit", "pglogical", "pgrouting", "pgtap", "plcoffee", "plls", "plprofiler",
    "plrust", "plv8", "postgis", "postgis_raster", "postgis_tiger_geocoder", "postgis_topology", "prefix",
    "rdkit", "rds_tools", "tds_fdw", "vector",
})}
"""Extension names (``CREATE EXTENSION`` names: pgvector is ``vector``) RDS for PostgreSQL offers, per
engine major; ``extensions`` must name only these. Checked against the AWS document "Extension versions
for Amazon RDS for PostgreSQL" (Amazon RDS for PostgreSQL release notes), PostgreSQL 15 section, as read
on 2026-12-01. Its rows are project names where they differ: h3-pg is ``h3`` and ``h3_postgis``, pgAudit
``pgaudit``, pgTAP ``pgtap``. Left out: its rows that are not ``CREATE EXTENSION`` names (auto_explain,
decoder_raw, ICU module, wal2json) and flow_control, whose extension name the document does not confirm."""


STATEFUL_RESOURCE_TYPES: dict[str, str] = {
    "aws_db_instance": "the database and every byte in it",
    "aws_kms_key": "the key and every ciphertext made with it (storage, snapshots, secrets)",
    "aws_secretsmanager_secret": "the secret and the credentials the application reads from it",
    "aws_db_parameter_group": "the parameter group; the instance reboots to take a new one",
}
"""Resource type -> what destroying it loses: the one list that `tenantdb plan`'s guard refuses to replace
or destroy and that ``prevent_destroy`` protects in the stacks. @see docs/runbook.md (deliberate replacement)."""


class SettingsError(UsageError, ValueError):
    """A settings value is invalid (exit 2); ``str()`` is the one-line message."""


class Settings(BaseModel):
    """One environment's settings. Frozen: read it, never mutate it."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)

    environment: Literal["local", "dev", "staging", "prod"]
    """Which environment these settings describe. @see Story 0.4 instance sizing."""

    # ----- identity ---------------------------------------------------------
    project: str = "qualisys"
    """Project name, the prefix of every AWS name. @default "qualisys" @see Story 0.4 task 3.1."""

    region: str = "us-east-1"
    """AWS region. @default "us-east-1" @see Story 0.4 connection string example."""

    # ----- engine (AC1) -----------------------------------------------------
    engine_major: int = 15
    """PostgreSQL major version; RDS picks the latest minor. @default 15 @see AC1 (15+ only)."""

    minimum_minor: int = 14
    """Oldest minor the verifier accepts (row-security CVE fixes, 15.14).
    @default 14 @see verify ISO-CVE (PostgreSQL security releases of row security)."""

    auto_minor_version_upgrade: bool = True
    """Let RDS apply minor versions in the maintenance window. @default true @see checkov CKV_AWS_226."""

    engine_lifecycle_support: Literal["open-source-rds-extended-support-disabled",
                                      "open-source-rds-extended-support"] = "open-source-rds-extended-support-disabled"
    """Opt out of paid RDS Extended Support, into which RDS enrols an instance whose major version leaves
    standard support (PostgreSQL 15: February 2028) unless it opts out. @default opt out
    @see cost safety, AWS RDS "Using Amazon RDS Extended Support"."""

    # ----- instance (AC2, AC3, task 1) --------------------------------------
    instance_class: str = "db.t3.medium"
    """Instance class. @default db.t3.medium (dev/staging/local), db.r5.large (prod) @see AC2."""

    multi_az: bool = False
    """Multi-AZ standby. @default false; true for prod @see AC3."""

    storage_type: Literal["gp3", "gp2", "io1", "io2"] = "gp3"
    """Storage type. @default gp3 @see Story 0.4 task 1.6."""

    allocated_storage_gb: int = Field(20, ge=20, le=65536)
    """Initial storage in GB. @default 20; 100 for prod @see Story 0.4 instance sizing."""

    max_allocated_storage_gb: int = Field(100, le=65536)
    """Storage autoscaling ceiling in GB. @default 100; 500 for prod (5x headroom for
    500 tenants' growth, bounded so a runaway write cannot grow the bill without
    limit) @see Story 0.4 task 1.6."""

    port: int = Field(5432, ge=1150, le=65535)
    """Listener port; the story's connection string uses 5432. @default 5432 @see Story 0.4 connection string."""

    publicly_accessible: Literal[False] = False
    """Never public. @default false (the only value allowed) @see Story 0.4 task 4.2."""

    ca_cert_identifier: str = "rds-ca-rsa2048-g1"
    """Server certificate authority. @default rds-ca-rsa2048-g1 @see AWS RDS CA rotation, checkov CKV_AWS_211."""

    iam_database_authentication: bool = True
    """IAM database authentication. @default true @see checkov CKV_AWS_161."""

    copy_tags_to_snapshot: bool = True
    """Copy tags to snapshots. @default true @see checkov CKV2_AWS_60."""

    master_username: str = "qualisys_admin"
    """Master user; not "postgres" (Security Hub RDS.25). @default "qualisys_admin" @see Story 0.4 task 5.1."""

    # ----- backups and maintenance (AC4, task 2) ----------------------------
    backup_retention_days: int = 7
    """Automated backup retention in days, 7 or more. @default 7 @see AC4, task 2.1."""

    backup_window: str = "03:00-04:00"
    """Daily backup window, UTC. @default "03:00-04:00" @see AC4, task 2.2."""

    maintenance_window: str = "sun:04:00-sun:05:00"
    """Weekly maintenance window, UTC. @default "sun:04:00-sun:05:00" @see task 2.3."""

    deletion_protection: bool = False
    """Deletion protection. @default false; true for prod @see task 2.4."""

    final_snapshot: bool = False
    """Take a final snapshot on delete. @default false; true for prod @see task 2.4."""

    # ----- observability (task 4) -------------------------------------------
    performance_insights_retention_days: int = 7
    """Performance Insights retention, encrypted with the storage CMK. @default 7 @see task 4.3."""

    monitoring_interval_s: Literal[0, 1, 5, 10, 15, 30, 60] = 60
    """Enhanced Monitoring granularity in seconds. @default 60 @see task 4.4."""

    log_exports: tuple[str, ...] = ("postgresql", "upgrade")
    """CloudWatch log exports. @default postgresql, upgrade @see task 4, checkov CKV_AWS_129."""

    log_retention_days: int = 365
    """Retention of the exported log groups. @default 365 @see checkov CKV_AWS_338."""

    # ----- KMS (AC5) --------------------------------------------------------
    kms_deletion_window_days: int = Field(30, ge=7, le=30)
    """Waiting period before a scheduled key deletion. @default 30 @see AC5, AWS KMS ScheduleKeyDeletion."""

    # ----- parameter group (AC6, task 3) ------------------------------------
    max_connections: int = Field(200, ge=20, le=5000)
    """max_connections. @default 200 (100+ pods) @see AC6, task 3.2."""

    work_mem_mb: int = Field(64, ge=1)
    """work_mem in MB (RDS unit: kB). @default 64 @see task 3.4."""

    maintenance_work_mem_mb: int = Field(512, ge=1)
    """maintenance_work_mem in MB (RDS unit: kB). @default 512 @see task 3.5."""

    log_min_duration_statement_ms: int = Field(1000, ge=-1)
    """Log statements slower than this. @default 1000 @see Story 0.4 debug log (slow query logging)."""

    temp_file_limit_percent: float = Field(10.0, gt=0, le=50)
    """The most temporary-file space one session may use (a sort or hash that spills), as a percentage
    of ``allocated_storage_gb``; the parameter group's ``temp_file_limit`` (kB) is derived from it
    (:attr:`db_parameters`). Without it one tenant's runaway sort can fill the volume every tenant
    writes to; the statement fails with 53400 instead. It binds one session: keep it well under the
    free space. @default 10 (2 GiB of dev's 20, 10 GiB of prod's 100) @see the threat model (availability),
    AWS RDS "temp_file_limit"."""

    # ----- database and roles (AC7, AC8) ------------------------------------
    db_name: str = "qualisys_master"
    """The master database. @default "qualisys_master" @see AC7."""

    app_role: str = "app_user"
    """The application's runtime role. @default "app_user" @see AC8."""

    app_create_on_database: bool = True
    """Grant app_user CREATE on the database (schema creation). @default true @see AC8; off is the
    stricter profile where only the migrator does DDL (docs/tenancy.md)."""

    migrator_role: str = "app_migrator"
    """Owner of tenant objects; the role migrations run as.
    @default "app_migrator" @see Story 1.3 (Alembic migrations), docs/tenancy.md."""

    platform_admin_role: str = "platform_admin"
    """NOLOGIN role that reaches every tenant through explicit policies.
    @default "platform_admin" @see Story 1.3 uber admin."""

    reporting_role: str = "app_reporting"
    """NOLOGIN read-only role for reporting: SELECT on every table and sequence the migrator creates,
    still under row security (one tenant at a time). Grant it to reporting logins. @default "app_reporting"
    @see the declarative database access design (read-only reporting user)."""

    platform_admin_members: tuple[str, ...] = ()
    """Existing login roles granted platform_admin. @default none @see Story 1.3 uber admin."""

    tenancy_schema: str = "tenancy"
    """The toolkit's own schema (current_tenant_id(), the tenant registry).
    @default "tenancy" @see Story 0.4 RLS policy pattern."""

    tenant_setting: str = "app.current_tenant"
    """The session setting that carries the tenant id.
    @default "app.current_tenant" @see Story 0.4 RLS policy pattern."""

    tenant_schema_prefix: str = "tenant_"
    """Prefix of every tenant schema, ``tenant_<slug>``. @default "tenant_" @see Story 0.4 schema structure."""

    sample_tenants: tuple[str, ...] = ()
    """Tenants `local up` creates, each with one isolated sample table, so verify shows isolation on
    real tenants. @default none; local: acme, globex @see Story 1.3 (cross-tenant tests with sample tenants)."""

    aws_internal_roles: tuple[str, ...] = ("rdsadmin", "rdsrepladmin", "rdstopmgr")
    """Roles the database's operator owns, allowed SUPERUSER/BYPASSRLS besides the master (ISO-SUPERUSER).
    @default RDS's own (rdsadmin, rdsrepladmin, rdstopmgr); local adds "postgres", the local
    cluster's initdb superuser that plays rdsadmin
    @see verify ISO-SUPERUSER, AWS RDS "Understanding PostgreSQL roles"."""

    # ----- secrets (AC9, task 6) --------------------------------------------
    connection_secret_name: str = "qualisys/database/connection"
    """Secret holding app_user's connection JSON. @default "qualisys/database/connection" @see AC9, task 6.1."""

    migrator_secret_name: str = "qualisys/database/migrator"
    """Secret holding the migrator's connection JSON.
    @default "qualisys/database/migrator" @see Story 1.3 (migrations run as the migrator)."""

    secret_rotation_days: int = Field(90, ge=1, le=90)
    """Rotation period of the connection and migrator secrets, at most 90 days (checkov CKV_AWS_304).
    @default 90 @see task 6.3, docs/security.md."""

    rotation_application_id: str = (
        "arn:aws:serverlessrepo:us-east-1:297356227824:applications/SecretsManagerRDSPostgreSQLRotationSingleUser")
    """AWS's PostgreSQL single-user rotation function in the Serverless Application Repository (aws partition).
    @default SecretsManagerRDSPostgreSQLRotationSingleUser
    @see Story 0.4 task 6.3, AWS CDK SecretRotationApplication."""

    rotation_application_version: str = Field("1.1.671", pattern=r"^\d+\.\d+\.\d+$")
    """Pinned semantic version of the rotation application. @default 1.1.671 (what AWS CDK's
    SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER lists for the aws partition) @see Story 0.4 task 6.3."""

    rotation_https_egress_cidrs: tuple[str, ...] = ("0.0.0.0/0",)
    """Where the rotation function may open HTTPS (443) to reach Secrets Manager (a NAT gateway or an
    interface endpoint of the network layer). @default anywhere; narrow it to the VPC's CIDR when the
    network layer provides a Secrets Manager VPC endpoint @see docs/security.md."""

    secret_recovery_window_days: int = Field(7, ge=0, le=30)
    """Recovery window of a deleted secret (0 deletes at once). @default 7 @see AWS DeleteSecret."""

    irsa_service_accounts: tuple[str, ...] = ("system:serviceaccount:qualisys:api",)
    """Kubernetes service accounts allowed to read the connection secret. @default qualisys/api @see task 6.4."""

    # ----- network inputs (Story 0.2) ---------------------------------------
    ssm_db_subnet_group_param: str = ""
    """SSM parameter holding the DB subnet group name.
    @default "/<project>/<env>/network/db_subnet_group_name" @see task 1.1."""

    ssm_security_group_param: str = ""
    """SSM parameter holding the RDS security group id.
    @default "/<project>/<env>/network/rds_security_group_id" @see task 4.1."""

    # ----- Terraform state --------------------------------------------------
    state_bucket: str = ""
    """S3 bucket for Terraform state (not used by local).
    @default "<project>-tfstate-<env>" @see README state bucket."""

    state_key: str = ""
    """State object key. @default "tenantdb/<env>/terraform.tfstate"."""

    # ----- CI (docs/ci.md) ----------------------------------------------------
    ci_plan_role_arn: str = ""
    """IAM role the pull-request pipeline assumes through GitHub OIDC to run `tenantdb plan`
    (read-only, state read). @default "" (the plan job stops and says to set it) @see docs/ci.md."""

    ci_apply_role_arn: str = ""
    """IAM role the main-branch pipeline assumes through GitHub OIDC to plan and apply.
    @default "" (the apply job stops and says to set it) @see docs/ci.md."""

    ci_bootstrap_role_arn: str = ""
    """IAM role for `tenantdb bootstrap` and `verify` in the pipeline. @default "" (use the
    self-hosted runner's own credentials, e.g. its instance profile) @see docs/ci.md."""

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

    # ----- tenant context (Story 0.4 Red Team requirements) ----------------
    tenant_context: Literal["plain", "signed"] = "plain"
    """How the application names its tenant to row security. ``plain``: the tenant id itself, set with
    ``SELECT tenancy.set_tenant($1)``; anyone who runs SQL as app_user may name any id. ``signed``: a
    token (tenant id, expiry, MAC under a key app_user cannot read), set through the same helper; a
    forged, tampered or expired token names no tenant. @default "plain" @see Story 0.4 Red Team
    requirements (NO BYPASSRLS), docs/security.md (signed tenant context)."""

    context_key_secret_name: str = "qualisys/database/context-key"
    """Secret holding the signing key of the tenant context (signed mode), encrypted with the secrets
    CMK and readable through the application's IRSA policy. @default "qualisys/database/context-key"
    @see docs/security.md (signed tenant context)."""

    context_key_rotation_days: int = Field(90, ge=1, le=365)
    """How often the bootstrap rotates the context signing key (the previous key stays valid for one
    overlap of ``context_token_max_ttl_s``). @default 90 @see Story 0.4 task 6.3 (90-day rotation)."""

    context_token_max_ttl_s: int = Field(3600, ge=1, le=86400)
    """Longest lifetime a context token may have; also the overlap during which a retired key still
    verifies. @default 3600 @see docs/security.md (signed tenant context)."""

    # ----- extensions (multi-tenant migrations README) ----------------------
    extensions: tuple[str, ...] = ("pg_stat_statements",)
    """Extensions the bootstrap creates in ``db_name``; each must be one RDS PostgreSQL offers for the
    engine major. @default pg_stat_statements @see Story 0.4 task 3 (pg_stat_statements), the
    multi-tenant migrations README (uuid-ossp, pgcrypto, citext, btree_gist, vector),
    AWS "Extensions supported for RDS for PostgreSQL 15"."""

    # ----- protection against accidental destruction ------------------------
    prevent_destroy: bool = False
    """Terraform ``lifecycle.prevent_destroy`` on the instance, both KMS keys, the secrets and the
    parameter group: `cdktf deploy` and `terraform apply` refuse any plan that destroys or replaces
    them. @default false; prod: true @see docs/runbook.md (deliberate replacement), Story 0.4 AC3."""

    # ----- tenant migrations (Story 1.3) ------------------------------------
    tenant_migrations: str | None = None
    """Alembic script directory `tenantdb migrate` runs in every tenant schema (project-relative or
    absolute). @default none (`--migrations DIR`); local: the sample set migrations/tenant
    @see Story 1.3 (Alembic migrations of the core tables), the multi-tenant migrations README."""

    untenanted_tables: tuple[str, ...] = ()
    """Tables a tenant schema may hold without a tenant_id column (besides Alembic's version table);
    any other such table fails the tenant's migration. @default none @see Story 1.3 (every table has
    tenant_id)."""

    # ----- validation -------------------------------------------------------
    @field_validator("engine_major")
    @classmethod
    def _major(cls, v: int) -> int:
        if v < 15:
            raise ValueError("must be 15 or later (AC1: PostgreSQL 15+)")
        return v

    @field_validator("backup_retention_days")
    @classmethod
    def _retention(cls, v: int) -> int:
        if not 7 <= v <= 35:
            raise ValueError("must be 7 to 35 days (AC4: 7-day retention; RDS allows at most 35)")
        return v

    @field_validator("instance_class")
    @classmethod
    def _class(cls, v: str) -> str:
        if v not in INSTANCE_CLASS_MEMORY_GIB:
            raise ValueError("unknown instance class; use one of db.t3.*, db.t4g.*, db.m5/m6g/m6i/m7g.*, "
                             "db.r5/r6g/r6i/r7g.* (e.g. db.t3.medium)")
        return v

    @field_validator("backup_window")
    @classmethod
    def _backup_window(cls, v: str) -> str:
        m = _WINDOW.match(v)
        if not m:
            raise ValueError('must be "hh:mm-hh:mm" in UTC, e.g. "03:00-04:00"')
        start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
        if (end - start) % 1440 < 30:
            raise ValueError("must be at least 30 minutes long (RDS rule)")
        return v

    @field_validator("maintenance_window")
    @classmethod
    def _maintenance_window(cls, v: str) -> str:
        if not _MAINT.match(v):
            raise ValueError('must be "ddd:hh:mm-ddd:hh:mm" in UTC, e.g. "sun:04:00-sun:05:00"')
        start, end = _week_minutes(v)
        if (end - start) % 10080 < 30:
            raise ValueError("must be at least 30 minutes long (RDS rule)")
        return v

    @field_validator("connection_secret_name", "migrator_secret_name", "context_key_secret_name")
    @classmethod
    def _secret_name(cls, v: str) -> str:
        if not _SECRET_NAME.match(v) or v.startswith("/") or v.endswith("/"):
            raise ValueError("must be 1-512 of letters, digits and /_+=.@- with no leading or trailing / "
                             '(e.g. "qualisys/database/connection")')
        return v

    @field_validator("db_name", "app_role", "migrator_role", "platform_admin_role", "tenancy_schema",
                     "master_username", "reporting_role")
    @classmethod
    def _identifier(cls, v: str) -> str:
        if not _IDENTIFIER.match(v):
            raise ValueError("must be lower-case letters, digits and _, starting with a letter, at most 63 bytes")
        return v

    @field_validator("tenant_schema_prefix")
    @classmethod
    def _prefix(cls, v: str) -> str:
        if not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", v, re.ASCII):
            raise ValueError("must be 1-32 lower-case letters, digits and _, starting with a letter (e.g. tenant_)")
        return v

    @field_validator("ci_plan_role_arn", "ci_apply_role_arn", "ci_bootstrap_role_arn")
    @classmethod
    def _role_arn(cls, v: str) -> str:
        if v and not _ROLE_ARN.match(v):
            raise ValueError('must be empty or an IAM role ARN, '
                             'e.g. "arn:aws:iam::123456789012:role/tenantdb-plan-dev"')
        return v

    @field_validator("extensions")
    @classmethod
    def _extensions(cls, v: tuple[str, ...], info: Any) -> tuple[str, ...]:
        # A newer major without its own list is held to the newest list there is.
        major = min(info.data.get("engine_major", 15), max(RDS_EXTENSIONS))
        unknown = [name for name in v if name not in RDS_EXTENSIONS[major]]
        if unknown:
            hint = " (pgvector's extension is named vector)" if unknown[0] == "pgvector" else ""
            raise ValueError(f"{unknown[0]!r} is not an extension RDS for PostgreSQL {major} offers{hint}; "
                             "use names from tenantdb.settings.RDS_EXTENSIONS, e.g. uuid-ossp, pgcrypto, vector")
        if len(set(v)) != len(v):
            raise ValueError("names an extension twice")
        return v

    @field_validator("project")
    @classmethod
    def _project(cls, v: str) -> str:
        if not _PROJECT.match(v):
            raise ValueError("must be 2-31 lower-case letters, digits and -, starting with a letter")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.max_allocated_storage_gb < self.allocated_storage_gb:
            raise _FieldError("max_allocated_storage_gb", self.max_allocated_storage_gb,
                              f"must be at least allocated_storage_gb ({self.allocated_storage_gb})")
        if self.master_username in ("postgres", "admin", "rdsadmin"):
            raise _FieldError("master_username", self.master_username,
                              "must not be a default name (postgres, admin, rdsadmin)")
        roles = [self.app_role, self.migrator_role, self.platform_admin_role, self.master_username,
                 self.reporting_role]
        if self.local_moto_port == self.local_postgres_port:
            raise _FieldError("local_postgres_port", self.local_postgres_port,
                              f"must differ from local_moto_port ({self.local_moto_port}): the emulator and the "
                              "cluster cannot share a port")
        if len(set(roles)) != len(roles):
            raise _FieldError("app_role", self.app_role,
                              "app_role, migrator_role, platform_admin_role, reporting_role "
                              "and master_username must differ")
        if self.app_role in self.platform_admin_members:
            raise _FieldError("platform_admin_members", self.platform_admin_members,
                              f"must not include app_role {self.app_role!r} (it would reach every tenant's rows)")
        _timeouts_consistent(self)
        if _windows_overlap(self.backup_window, self.maintenance_window):
            raise _FieldError("maintenance_window", self.maintenance_window,
                              f"must not overlap backup_window {self.backup_window} (RDS rule; touching is allowed)")
        return self

    # ----- derived names (one place, so nothing restates them) --------------
    @property
    def stack_id(self) -> str:
        """The database stack id, ``<project>-db-<env>``."""
        return f"{self.project}-db-{self.environment}"

    @property
    def network_stack_id(self) -> str:
        """The local network stand-in stack id."""
        return f"{self.project}-network-{self.environment}"

    @property
    def access_stack_id(self) -> str:
        """The declarative access stack id (docs/access.md)."""
        return f"{self.project}-access-{self.environment}"

    @property
    def instance_identifier(self) -> str:
        """The RDS instance identifier."""
        return f"{self.project}-db-{self.environment}"

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
        """Resource types this environment's stacks leave out, with why: :data:`EMULATOR_UNSUPPORTED`
        where AWS is an emulator (``aws_endpoint_url``), nothing on real AWS."""
        return dict(EMULATOR_UNSUPPORTED) if self.aws_endpoint_url else {}

    @property
    def log_group_names(self) -> tuple[str, ...]:
        """The log groups RDS exports to (created by the stack so they are encrypted and retained)."""
        return tuple(f"/aws/rds/instance/{self.instance_identifier}/{log}" for log in self.log_exports)

    @property
    def instance_memory_bytes(self) -> int:
        return INSTANCE_CLASS_MEMORY_GIB[self.instance_class] * 1024**3

    @property
    def db_parameters(self) -> dict[str, tuple[str, str]]:
        """Parameter name -> (value in RDS units, apply method). Static ones need a reboot (AC6, task 3)."""
        return {
            "max_connections": (str(self.max_connections), "pending-reboot"),
            # 8 kB pages: bytes/32768 pages = bytes/4 = 25% of instance memory (task 3.3)
            "shared_buffers": ("{DBInstanceClassMemory/32768}", "pending-reboot"),
            "work_mem": (str(self.work_mem_mb * 1024), "immediate"),
            "maintenance_work_mem": (str(self.maintenance_work_mem_mb * 1024), "immediate"),
            "shared_preload_libraries": ("pg_stat_statements", "pending-reboot"),
            "pg_stat_statements.track": ("all", "immediate"),
            "pg_stat_statements.track_utility": ("0", "immediate"),
            "log_min_duration_statement": (str(self.log_min_duration_statement_ms), "immediate"),
            # none, not ddl: AWS's single-user rotation function sends ALTER USER ... PASSWORD in
            # clear, and a DDL log (exported to CloudWatch) would keep every rotated password.
            "log_statement": ("none", "immediate"),
            "rds.force_ssl": ("1", "immediate"),
            "password_encryption": ("scram-sha-256", "immediate"),
            "temp_file_limit": (str(self.temp_file_limit_kb), "immediate"),
        }

    @property
    def temp_file_limit_kb(self) -> int:
        """``temp_file_limit`` in kB: ``temp_file_limit_percent`` of ``allocated_storage_gb`` (GiB), at
        least 1 MiB and at most PostgreSQL's maximum (2^31 - 1 kB)."""
        kb = int(self.allocated_storage_gb * 1024 * 1024 * self.temp_file_limit_percent / 100)
        return min(max(kb, 1024), 2**31 - 1)


class _FieldError(ValueError):
    """A cross-field rule broken by one named field."""

    def __init__(self, field: str, value: Any, rule: str):
        super().__init__(rule)
        self.field, self.value, self.rule = field, value, rule


def _timeouts_consistent(s: Settings) -> None:
    """Each wait the toolkit allows itself ends before the statement that waits is cancelled."""
    if s.toolkit_lock_timeout_s >= s.toolkit_statement_timeout_s:
        raise _FieldError("toolkit_lock_timeout_s", s.toolkit_lock_timeout_s,
                          f"must be below toolkit_statement_timeout_s ({s.toolkit_statement_timeout_s:g})")
    if s.verify_lock_timeout_s > s.toolkit_lock_timeout_s:
        raise _FieldError("verify_lock_timeout_s", s.verify_lock_timeout_s,
                          f"must be at most toolkit_lock_timeout_s ({s.toolkit_lock_timeout_s:g})")
    if s.bootstrap_wait_s >= s.toolkit_statement_timeout_s:
        raise _FieldError("bootstrap_wait_s", s.bootstrap_wait_s,
                          f"must be below toolkit_statement_timeout_s ({s.toolkit_statement_timeout_s:g})")
    if s.migrate_statement_timeout_s < s.toolkit_statement_timeout_s:
        raise _FieldError("migrate_statement_timeout_s", s.migrate_statement_timeout_s,
                          f"must be at least toolkit_statement_timeout_s ({s.toolkit_statement_timeout_s:g})")


def _week_minutes(window: str) -> tuple[int, int]:
    start, end = window.split("-")
    def at(part: str) -> int:
        day, hh, mm = part.split(":")
        return _DAYS.index(day) * 1440 + int(hh) * 60 + int(mm)
    return at(start), at(end)


def _windows_overlap(backup: str, maintenance: str) -> bool:
    """True when the daily backup window overlaps the weekly maintenance window (touching is fine)."""
    m = _WINDOW.match(backup)
    if not m or not _MAINT.match(maintenance):
        return False
    b_start = int(m[1]) * 60 + int(m[2])
    b_len = (int(m[3]) * 60 + int(m[4]) - b_start) % 1440
    m_start, m_end = _week_minutes(maintenance)
    m_len = (m_end - m_start) % 10080
    for day in range(7):
        s = day * 1440 + b_start
        for shift in (-10080, 0, 10080):
            a0, a1 = s + shift, s + shift + b_len
            if a0 < m_start + m_len and m_start < a1:
                return True
    return False


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


def _derived_defaults(env: str, values: dict[str, Any]) -> dict[str, Any]:
    """Fill the defaults that are built from other fields."""
    project = values.get("project", "qualisys")
    out = dict(values)
    out.setdefault("ssm_db_subnet_group_param", f"/{project}/{env}/network/db_subnet_group_name")
    out.setdefault("ssm_security_group_param", f"/{project}/{env}/network/rds_security_group_id")
    out.setdefault("state_bucket", f"{project}-tfstate-{env}")
    out.setdefault("state_key", f"tenantdb/{env}/terraform.tfstate")
    if env == "local":
        port = out.get("local_moto_port", Settings.model_fields["local_moto_port"].default)
        pg_port = out.get("local_postgres_port", Settings.model_fields["local_postgres_port"].default)
        out.setdefault("aws_endpoint_url", f"http://127.0.0.1:{port}")
        out.setdefault("db_endpoint", f"127.0.0.1:{pg_port}")
        out.setdefault("retry_budget_s", 10.0)
    return out


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
    values = _derived_defaults(env, values)
    try:
        return Settings(environment=env, **values)
    except ValidationError as exc:
        raise SettingsError(_one_line(env, exc, values)) from None
    except _FieldError as exc:  # pragma: no cover - pydantic wraps it; kept for safety
        raise SettingsError(f"{env}: {exc.field}={exc.value!r}: {exc.rule}") from None


def load_all(overlay: str | os.PathLike[str] | None = None) -> list[Settings]:
    """Every environment, in deployment order."""
    return [load(env, overlay) for env in ENVIRONMENTS]


def _one_line(env: str, exc: ValidationError, values: dict[str, Any]) -> str:
    err = exc.errors()[0]
    ctx_err = (err.get("ctx") or {}).get("error")
    if isinstance(ctx_err, _FieldError):
        return f"{env}: {ctx_err.field}={ctx_err.value!r}: {ctx_err.rule}"
    field = ".".join(str(p) for p in err["loc"]) or "settings"
    if err["type"] == "extra_forbidden":
        return f"{env}: {field}: unknown setting; check the spelling against tenantdb/settings.py"
    value = values.get(field, err.get("input"))
    msg = err["msg"].removeprefix("Value error, ")
    return f"{env}: {field}={value!r}: {msg}"
