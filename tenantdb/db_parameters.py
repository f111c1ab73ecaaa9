"""The custom DB parameter group's contents (AC6, Story 0.4 task 3), computed from the settings' values.

The stacks write them (stacks/parameter_group.py), `tenantdb check` and `tenantdb verify` hold the group
and the live server to them: one table, read through ``Settings.db_parameters``.

Ground floor: this module imports nothing of the project's.
"""

from __future__ import annotations

TEMP_FILE_LIMIT_MAX_KB = 2**31 - 1
"""PostgreSQL's largest ``temp_file_limit`` (kB)."""


def temp_file_limit_kb(allocated_storage_gb: int, temp_file_limit_percent: float) -> int:
    """``temp_file_limit`` in kB: ``temp_file_limit_percent`` of ``allocated_storage_gb`` (GiB), at
    least 1 MiB and at most PostgreSQL's maximum (2^31 - 1 kB)."""
    kb = int(allocated_storage_gb * 1024 * 1024 * temp_file_limit_percent / 100)
    return min(max(kb, 1024), TEMP_FILE_LIMIT_MAX_KB)


def db_parameters(*, max_connections: int, work_mem_mb: int, maintenance_work_mem_mb: int,
                  log_min_duration_statement_ms: int, temp_file_limit_kb: int) -> dict[str, tuple[str, str]]:
    """Parameter name -> (value in RDS units, apply method). Static ones need a reboot (AC6, task 3)."""
    return {
        "max_connections": (str(max_connections), "pending-reboot"),
        # 8 kB pages: bytes/32768 pages = bytes/4 = 25% of instance memory (task 3.3)
        "shared_buffers": ("{DBInstanceClassMemory/32768}", "pending-reboot"),
        "work_mem": (str(work_mem_mb * 1024), "immediate"),
        "maintenance_work_mem": (str(maintenance_work_mem_mb * 1024), "immediate"),
        "shared_preload_libraries": ("pg_stat_statements", "pending-reboot"),
        "pg_stat_statements.track": ("all", "immediate"),
        "pg_stat_statements.track_utility": ("0", "immediate"),
        "log_min_duration_statement": (str(log_min_duration_statement_ms), "immediate"),
        # none, not ddl: AWS's single-user rotation function sends ALTER USER ... PASSWORD in
        # clear, and a DDL log (exported to CloudWatch) would keep every rotated password.
        "log_statement": ("none", "immediate"),
        "rds.force_ssl": ("1", "immediate"),
        "password_encryption": ("scram-sha-256", "immediate"),
        "temp_file_limit": (str(temp_file_limit_kb), "immediate"),
    }
