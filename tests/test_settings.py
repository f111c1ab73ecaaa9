"""Settings: the single source of truth rejects bad input with one clear line."""

import pytest

from tenantdb import settings


def test_every_environment_loads_with_the_story_defaults():
    envs = {s.environment: s for s in settings.load_all()}
    assert set(envs) == {"local", "dev", "staging", "prod"}
    assert envs["prod"].instance_class == "db.r5.large" and envs["prod"].multi_az
    for name in ("local", "dev", "staging"):
        assert envs[name].instance_class == "db.t3.medium" and not envs[name].multi_az
    assert envs["prod"].stack_id == "qualisys-db-prod"
    assert envs["dev"].parameter_group_name == "qualisys-postgres15-dev"


@pytest.mark.parametrize("override, field", [
    ({"engine_major": 14}, "engine_major"),
    ({"backup_retention_days": 3}, "backup_retention_days"),
    ({"backup_window": "3am"}, "backup_window"),
    ({"maintenance_window": "sun:03:30-sun:04:30"}, "maintenance_window"),
    ({"instance_class": "db.x9.huge"}, "instance_class"),
    ({"max_allocated_storage_gb": 50}, "max_allocated_storage_gb"),
    ({"connection_secret_name": "bad name!"}, "connection_secret_name"),
    ({"no_such_field": 1}, "no_such_field"),
    ({"local_moto_port": 45999, "local_postgres_port": 45999}, "local_postgres_port"),
])
def test_bad_values_are_rejected_naming_env_field_and_value(override, field):
    with pytest.raises(settings.SettingsError) as err:
        settings.load("prod", **override)
    msg = str(err.value)
    assert msg.startswith("prod: ") and field in msg and "\n" not in msg


def test_unknown_environment_is_rejected():
    with pytest.raises(settings.SettingsError, match="unknown; use one of local, dev, staging, prod"):
        settings.load("qa")


def test_touching_windows_are_allowed():
    s = settings.load("dev", backup_window="03:00-04:00", maintenance_window="sun:04:00-sun:05:00")
    assert s.maintenance_window == "sun:04:00-sun:05:00"


def test_overlay_file_overrides_one_environment(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[prod]\nmulti_az = false\n')
    assert settings.load("prod", f).multi_az is False
    assert settings.load("staging", f).multi_az is False
    f.write_text('[qa]\nmulti_az = false\n')
    with pytest.raises(settings.SettingsError, match=r"unknown environment \[qa\]"):
        settings.load("prod", f)


# ----- the toolkit's own sessions, and the parameter group's temp_file_limit --------------

def test_the_toolkit_timeouts_default_and_refuse_waits_that_outlast_their_statement():
    s = settings.load("dev")
    assert (s.toolkit_lock_timeout_s, s.toolkit_statement_timeout_s, s.verify_lock_timeout_s,
            s.bootstrap_wait_s, s.migrate_statement_timeout_s) == (10, 600, 1, 300, 3600)
    for override, field in [({"toolkit_lock_timeout_s": 0}, "toolkit_lock_timeout_s"),
                            ({"toolkit_statement_timeout_s": 30}, "toolkit_statement_timeout_s"),
                            ({"toolkit_lock_timeout_s": 120, "toolkit_statement_timeout_s": 100},
                             "toolkit_lock_timeout_s"),
                            ({"verify_lock_timeout_s": 20}, "verify_lock_timeout_s"),
                            ({"bootstrap_wait_s": 900}, "bootstrap_wait_s"),
                            ({"migrate_statement_timeout_s": 300}, "migrate_statement_timeout_s")]:
        with pytest.raises(settings.SettingsError) as err:
            settings.load("dev", **override)
        assert str(err.value).startswith(f"dev: {field}=") and "\n" not in str(err.value), err.value
    assert settings.load("dev", bootstrap_wait_s=900, toolkit_statement_timeout_s=1200,
                         migrate_statement_timeout_s=1200).bootstrap_wait_s == 900


def test_temp_file_limit_is_derived_from_the_storage_in_kb():
    envs = {s.environment: s for s in settings.load_all()}
    assert envs["dev"].db_parameters["temp_file_limit"] == ("2097152", "immediate")  # 10% of 20 GiB
    assert envs["prod"].db_parameters["temp_file_limit"] == ("10485760", "immediate")  # 10% of 100 GiB
    assert settings.load("dev", temp_file_limit_percent=0.01).temp_file_limit_kb == 2097
    assert settings.load("dev", temp_file_limit_percent=1e-6).temp_file_limit_kb == 1024  # never below 1 MiB
    huge = settings.load("dev", allocated_storage_gb=65536, max_allocated_storage_gb=65536)
    assert huge.temp_file_limit_kb == 2**31 - 1  # PostgreSQL's maximum
    for bad in (0, 60):
        with pytest.raises(settings.SettingsError, match="temp_file_limit_percent"):
            settings.load("dev", temp_file_limit_percent=bad)


def _stack_with(tmp_path, s, params):
    from tenantdb.infra import check

    group = {"name": s.parameter_group_name, "family": s.parameter_group_family,
             "parameter": [{"name": k, "value": v, "apply_method": m} for k, (v, m) in params.items()]}
    doc = {"resource": {"aws_db_instance": {"db": {"parameter_group_name": "${aws_db_parameter_group.postgres.name}"}},
                        "aws_db_parameter_group": {"postgres": group}}}
    return check.Ctx(s, check.baseline(s), check.Stack(tmp_path, doc))


def test_check_holds_the_parameter_group_to_a_bounded_temp_file_limit(tmp_path):
    """`tenantdb check` (AC6): the synthesized group carries the derived temp_file_limit; a group
    without it, or unbounded (-1), FAILs naming it."""
    from tenantdb.infra.check.parameter_group import ac6_parameters
    from tenantdb.report import Status

    s = settings.load("dev")
    ok = ac6_parameters(_stack_with(tmp_path, s, s.db_parameters))
    assert ok.status is Status.PASS and "temp_file_limit=2097152" in ok.actual
    without = {k: v for k, v in s.db_parameters.items() if k != "temp_file_limit"}
    unbounded = {**s.db_parameters, "temp_file_limit": ("-1", "immediate")}
    for params in (without, unbounded):
        got = ac6_parameters(_stack_with(tmp_path, s, params))
        assert got.status is Status.FAIL and "one session's temporary files are not bounded" in got.detail, got


# ----- one place for derived defaults, and no unvalidated copies ---------------------------

def test_a_directly_built_settings_gets_the_derived_defaults():
    """Settings(...) and Settings.model_validate(...), as the offline check's baseline builds them, derive
    the same defaults load() does."""
    for env in settings.ENVIRONMENTS:
        loaded = settings.load(env)
        direct = settings.Settings(environment=env, **settings.PROFILES[env])
        validated = settings.Settings.model_validate({"environment": env, **settings.PROFILES[env]})
        assert direct == loaded == validated, env
    direct = settings.Settings(environment="local", project="acme", local_postgres_port=55432)
    assert (direct.state_bucket, direct.ssm_db_subnet_group_param, direct.db_endpoint, direct.retry_budget_s) == (
        "acme-tfstate-local", "/acme/local/network/db_subnet_group_name", "127.0.0.1:55432", 10.0)
    assert direct.instance_identifier == direct.stack_id == "acme-db-local"


def test_replaced_validates_the_copy_and_derives_again_what_was_not_set():
    s = settings.load("local")
    # model_copy validates nothing: it would hand on a retention AC4 forbids
    assert s.model_copy(update={"backup_retention_days": 3}).backup_retention_days == 3
    with pytest.raises(settings.SettingsError) as err:
        s.replaced(backup_retention_days=3)
    msg = str(err.value)
    assert msg.startswith("local: backup_retention_days=3: must be 7 to 35 days") and "\n" not in msg
    with pytest.raises(settings.SettingsError, match=r"^local: no_such_field: unknown setting"):
        s.replaced(no_such_field=1)
    with pytest.raises(settings.SettingsError, match=r"^local: verify_lock_timeout_s=20.0: must be at most"):
        s.replaced(verify_lock_timeout_s=20)  # a rule across fields too
    moved = s.replaced(local_postgres_port=55432, project="acme")
    assert (moved.db_endpoint, moved.state_bucket) == ("127.0.0.1:55432", "acme-tfstate-local")  # derived again
    assert moved.sample_tenants == s.sample_tenants and moved.backup_retention_days == 7
    pinned = settings.load("local", db_endpoint="10.0.0.5:6432").replaced(local_postgres_port=55432)
    assert pinned.db_endpoint == "10.0.0.5:6432"  # set explicitly: it stays
    assert s.replaced() == s


def test_the_settings_hold_only_settings():
    """AWS's reference tables and the parameter group's contents have their own modules; settings.py
    neither defines nor re-exports them."""
    from tenantdb import aws_reference, db_parameters

    for name in ("INSTANCE_CLASS_MEMORY_GIB", "EMULATOR_UNSUPPORTED", "RDS_EXTENSIONS", "STATEFUL_RESOURCE_TYPES"):
        assert hasattr(aws_reference, name) and not hasattr(settings, name), name
    s = settings.load("prod")
    assert s.db_parameters == db_parameters.db_parameters(
        max_connections=200, work_mem_mb=64, maintenance_work_mem_mb=512, log_min_duration_statement_ms=1000,
        temp_file_limit_kb=db_parameters.temp_file_limit_kb(100, 10.0))


@pytest.mark.parametrize("override, field, fix", [
    ({"storage_iops": 12000}, "storage_iops", "set allocated_storage_gb to 400 or more"),
    ({"storage_throughput_mibps": 500}, "storage_throughput_mibps", "set allocated_storage_gb to 400 or more"),
    ({"allocated_storage_gb": 400, "max_allocated_storage_gb": 500, "storage_iops": 11999}, "storage_iops",
     "must be 12,000 to 64,000"),
    ({"allocated_storage_gb": 400, "max_allocated_storage_gb": 500, "storage_iops": 64001}, "storage_iops",
     "must be 12,000 to 64,000"),
    ({"allocated_storage_gb": 400, "max_allocated_storage_gb": 500, "storage_throughput_mibps": 4001},
     "storage_throughput_mibps", "must be 500 to 4,000"),
    ({"allocated_storage_gb": 400, "max_allocated_storage_gb": 500, "storage_throughput_mibps": 3001},
     "storage_throughput_mibps", "set storage_iops to 12,004 or more"),  # 0.25 MiB/s per baseline IOPS
    ({"allocated_storage_gb": 400, "max_allocated_storage_gb": 500, "storage_iops": 14000,
      "storage_throughput_mibps": 4000}, "storage_throughput_mibps", "set storage_iops to 16,000 or more"),
    ({"storage_type": "gp2", "allocated_storage_gb": 400, "max_allocated_storage_gb": 500, "storage_iops": 12000},
     "storage_iops", 'set storage_type = "gp3"'),
])
def test_gp3_provisioned_performance_follows_rds_rules_in_one_line(override, field, fix):
    """gp3 below 400 GiB is a fixed baseline; from 400 GiB 12,000-64,000 IOPS, 500-4,000 MiB/s, and at
    most 0.25 MiB/s per IOPS (AWS RDS user guide, gp3 storage)."""
    with pytest.raises(settings.SettingsError) as err:
        settings.load("dev", **override)
    msg = str(err.value)
    assert msg.startswith(f"dev: {field}={override[field]}: ") and fix in msg and "\n" not in msg, msg


def test_gp3_provisioned_performance_is_optional_and_kept_when_valid():
    assert (settings.load("prod").storage_iops, settings.load("prod").storage_throughput_mibps) == (None, None)
    s = settings.load("prod", allocated_storage_gb=400, storage_iops=16000, storage_throughput_mibps=4000)
    assert (s.storage_iops, s.storage_throughput_mibps) == (16000, 4000)
    assert settings.load("prod", allocated_storage_gb=400, storage_throughput_mibps=3000).storage_iops is None
    assert settings.load("prod", allocated_storage_gb=400, storage_iops=64000).storage_throughput_mibps is None


def test_a_bad_gp3_setting_exits_2_with_one_line(tmp_path):
    import subprocess
    import sys

    overlay = tmp_path / "overlay.toml"
    overlay.write_text("[dev]\nstorage_iops = 3000\n")
    proc = subprocess.run([sys.executable, "-m", "tenantdb.cli", "--settings", str(overlay), "check", "--env", "dev"],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 2 and proc.stderr.startswith("tenantdb: error: dev: storage_iops=3000: "), proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not proc.stdout, (proc.stdout, proc.stderr)
