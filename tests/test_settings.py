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
