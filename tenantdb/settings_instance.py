"""The settings of the RDS instance and its parameter group (AC1-AC6, Story 0.4 tasks 1-4), with the
rules that hold them: the engine, the instance class and storage, backups and maintenance windows,
observability, the KMS key's waiting period and the parameter group's inputs.

A group of fields :class:`tenantdb.settings.Settings` is made of; never built on its own.

Ground floor: this module imports only ground-floor modules (aws_reference, db_parameters,
settings_rules).
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from tenantdb import db_parameters as parameter_group
from tenantdb.aws_reference import INSTANCE_CLASS_MEMORY_GIB
from tenantdb.settings_rules import FieldError, identifier

_WINDOW = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)$")
_MAINT = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)-"
    r"(mon|tue|wed|thu|fri|sat|sun):([01]\d|2[0-3]):([0-5]\d)$"
)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_PROJECT = re.compile(r"^[a-z][a-z0-9-]{1,30}$")

GP3 = {"threshold_gb": 400, "iops": (12_000, 64_000), "mibps": (500, 4_000), "mibps_per_iops": 0.25}
"""RDS for PostgreSQL gp3 from 400 GiB: baseline and provisionable range of IOPS and throughput (MiB/s), and
the most throughput per IOPS; below 400 GiB nothing can be provisioned (AWS RDS user guide, gp3 storage)."""


class InstanceSettings(BaseModel):
    """The instance's fields (identity, engine, instance, backups, observability, KMS, parameter group)."""

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

    storage_iops: int | None = Field(None, ge=1)
    """gp3 provisioned IOPS; None keeps gp3's baseline (3,000 below 400 GiB, 12,000 from 400 GiB). RDS for
    PostgreSQL lets gp3 provision IOPS and throughput only from 400 GiB allocated: 12,000 to 64,000 IOPS.
    Passed to the instance (``iops``) only when set. @default None (the baseline)
    @see Story 0.4 task 1.6; AWS RDS user guide "Amazon RDS DB instance storage", gp3 storage
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html)."""

    storage_throughput_mibps: int | None = Field(None, ge=1)
    """gp3 provisioned throughput in MiB/s; None keeps gp3's baseline (125 below 400 GiB, 500 from 400 GiB).
    From 400 GiB: 500 to 4,000 MiB/s, and at most 0.25 MiB/s per IOPS (the provisioned IOPS, or 12,000).
    Passed to the instance (``storage_throughput``) only when set. @default None (the baseline)
    @see Story 0.4 task 1.6; AWS RDS user guide "Amazon RDS DB instance storage", gp3 storage
    (https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/CHAP_Storage.html)."""

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

    @field_validator("master_username")
    @classmethod
    def _master_identifier(cls, v: str) -> str:
        return identifier(v)

    @field_validator("project")
    @classmethod
    def _project(cls, v: str) -> str:
        if not _PROJECT.match(v):
            raise ValueError("must be 2-31 lower-case letters, digits and -, starting with a letter")
        return v

    # ----- cross-field rules (Settings runs them, in the order it reports them) -----
    def _storage_fits(self) -> None:
        if self.max_allocated_storage_gb < self.allocated_storage_gb:
            raise FieldError("max_allocated_storage_gb", self.max_allocated_storage_gb,
                             f"must be at least allocated_storage_gb ({self.allocated_storage_gb})")
        self._gp3_performance()

    def _gp3_performance(self) -> None:
        """RDS's gp3 rules for PostgreSQL (:data:`GP3`): provisioning only from 400 GiB, within the range,
        throughput at most 0.25 MiB/s per IOPS."""
        iops, mibps = self.storage_iops, self.storage_throughput_mibps
        if iops is None and mibps is None:
            return
        field, value = ("storage_iops", iops) if iops is not None else ("storage_throughput_mibps", mibps)
        if self.storage_type != "gp3":
            raise FieldError(field, value, f"applies to gp3 only (storage_type is {self.storage_type}); "
                             "unset it or set storage_type = \"gp3\"")
        if self.allocated_storage_gb < GP3["threshold_gb"]:
            raise FieldError(field, value, f"gp3 below {GP3['threshold_gb']} GiB has a fixed baseline "
                             f"(3,000 IOPS, 125 MiB/s); unset it or set allocated_storage_gb to "
                             f"{GP3['threshold_gb']} or more")
        lo, hi = GP3["iops"]
        if iops is not None and not lo <= iops <= hi:
            raise FieldError("storage_iops", iops, f"must be {lo:,} to {hi:,} for gp3 (RDS rule); "
                             f"unset it for the {lo:,} baseline")
        lo, hi = GP3["mibps"]
        if mibps is not None and not lo <= mibps <= hi:
            raise FieldError("storage_throughput_mibps", mibps, f"must be {lo:,} to {hi:,} MiB/s for gp3 "
                             f"(RDS rule); unset it for the {lo:,} baseline")
        per_iops, effective_iops = GP3["mibps_per_iops"], iops if iops is not None else GP3["iops"][0]
        if mibps is not None and mibps > effective_iops * per_iops:
            raise FieldError("storage_throughput_mibps", mibps,
                             f"exceeds {per_iops} MiB/s per IOPS ({effective_iops:,} IOPS allow "
                             f"{int(effective_iops * per_iops):,}); set storage_iops to {int(mibps / per_iops):,} "
                             "or more, or lower the throughput")

    def _master_not_a_default_name(self) -> None:
        if self.master_username in ("postgres", "admin", "rdsadmin"):
            raise FieldError("master_username", self.master_username,
                             "must not be a default name (postgres, admin, rdsadmin)")

    def _windows_apart(self) -> None:
        if windows_overlap(self.backup_window, self.maintenance_window):
            raise FieldError("maintenance_window", self.maintenance_window,
                             f"must not overlap backup_window {self.backup_window} (RDS rule; touching is allowed)")

    # ----- what the parameter group holds (tenantdb/db_parameters.py) ------
    @property
    def instance_memory_bytes(self) -> int:
        return INSTANCE_CLASS_MEMORY_GIB[self.instance_class] * 1024**3

    @property
    def db_parameters(self) -> dict[str, tuple[str, str]]:
        """Parameter name -> (value in RDS units, apply method). Static ones need a reboot (AC6, task 3)."""
        return parameter_group.db_parameters(
            max_connections=self.max_connections, work_mem_mb=self.work_mem_mb,
            maintenance_work_mem_mb=self.maintenance_work_mem_mb,
            log_min_duration_statement_ms=self.log_min_duration_statement_ms,
            temp_file_limit_kb=self.temp_file_limit_kb)

    @property
    def temp_file_limit_kb(self) -> int:
        """``temp_file_limit`` in kB: ``temp_file_limit_percent`` of ``allocated_storage_gb`` (GiB), at
        least 1 MiB and at most PostgreSQL's maximum (2^31 - 1 kB)."""
        return parameter_group.temp_file_limit_kb(self.allocated_storage_gb, self.temp_file_limit_percent)


def _week_minutes(window: str) -> tuple[int, int]:
    start, end = window.split("-")
    def at(part: str) -> int:
        day, hh, mm = part.split(":")
        return _DAYS.index(day) * 1440 + int(hh) * 60 + int(mm)
    return at(start), at(end)


def windows_overlap(backup: str, maintenance: str) -> bool:
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
