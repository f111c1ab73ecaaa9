"""sql/ loading: placeholders through psycopg.sql, literal braces kept, every file composable."""

from __future__ import annotations

import pytest
from psycopg import sql

from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.plumbing import sqlfiles
from tenantdb import settings as settings_mod
from tenantdb.errors import ToolkitError


def test_placeholders_are_quoted_and_other_braces_stay():
    text = "GRANT x TO {app_role}; SELECT {app_role_name} ~ '^[0-9a-f]{8}$';"
    out = sqlfiles.compose(text, {"app_role": sql.Identifier('we"ird'), "app_role_name": sql.Literal("it's")})
    assert out.as_string(None) == "GRANT x TO \"we\"\"ird\"; SELECT 'it''s' ~ '^[0-9a-f]{8}$';"


def test_a_placeholder_without_a_value_is_an_error():
    with pytest.raises(ToolkitError, match="without a value: app_rol"):
        sqlfiles.compose("GRANT x TO {app_rol}", {})


def test_every_step_and_state_file_composes_from_the_settings():
    values = bootstrap.placeholders(settings_mod.load("prod"))
    steps = sqlfiles.files()
    names = [p.name for p in steps]
    assert names[:5] == ["010_roles.sql", "020_database_grants.sql", "030_extensions.sql",
                         "035_statistics_access.sql", "040_tenancy.sql"]
    assert {"060_enable_isolation.sql", "070_no_hooks.sql"} <= set(names)
    assert not any("/" in n for n in names)  # sql/verify/ and other subfolders are named queries, not steps
    for path in steps:
        assert sqlfiles.load(path, values).as_string(None)
        assert sqlfiles.load(sqlfiles.state_file(path), values).as_string(None)
    assert sqlfiles.state_file(steps[0]).name == "010_roles.state.sql"


def test_the_sql_dir_can_be_overridden(tmp_path, monkeypatch):
    (tmp_path / "010_only.sql").write_text("SELECT 1;")
    monkeypatch.setenv("TENANTDB_SQL_DIR", str(tmp_path))
    assert [p.name for p in sqlfiles.files()] == ["010_only.sql"]
    assert sqlfiles.state_file(sqlfiles.files()[0]).name == "state.sql"


def test_named_queries_load_from_subfolders_and_odd_names_are_refused():
    values = bootstrap.placeholders(settings_mod.load("prod"))
    from tenantdb.verify import posture

    assert sqlfiles.named_path("verify/posture").parent.name == "verify"
    assert "ISO-POLICY-EXACT" in posture.query(settings_mod.load("prod")).as_string(None)
    assert sqlfiles.named("verify/posture", posture.values(settings_mod.load("prod"))).as_string(None)
    assert values  # the bootstrap's placeholders are a subset of the posture's
    for bad in ("../etc/passwd", "verify/../x", "Verify/posture", "posture"):
        with pytest.raises(ValueError):
            sqlfiles.named_path(bad)
