"""The access stack (issue 8), synthesized and asserted with cdktf Testing: it cannot be applied or
validated here (the cyrilgdn/postgresql provider is not in the offline mirror; docs/access.md).

One real `tenantdb synth --with-access` (main.py in its own process) for the CLI path; everything
else synthesizes in-process, once cdktf is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tenantdb.infra import check
from tenantdb.database.bootstrap import roles
from tenantdb.infra import synth
from tenantdb import settings as settings_mod
from tenantdb.report import Status

ENVS = settings_mod.ENVIRONMENTS


@pytest.fixture(scope="module")
def with_access(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("synth-access") / "cdktf.out"
    return {d.name: d for d in synth.synth(with_access=True, outdir=out)}


@pytest.fixture(scope="module")
def all_on(synth_in_process: Any) -> dict[str, dict]:
    return synth_in_process([settings_mod.load(e, None, access_stack=True) for e in ENVS])


def _raw(doc: dict) -> str:
    return json.dumps(doc)


def test_with_access_writes_an_access_stack_for_every_environment(with_access: dict[str, Path]) -> None:
    assert {f"qualisys-access-{e}" for e in ENVS} <= set(with_access)
    assert {settings_mod.load(e).stack_id for e in ENVS} <= set(with_access)


def test_access_stack_is_opt_in_per_environment(synth_in_process: Any) -> None:
    targets = [settings_mod.load(e, None, access_stack=(e == "staging")) for e in ENVS]
    ids = set(synth_in_process(targets))
    assert "qualisys-access-staging" in ids
    assert not {f"qualisys-access-{e}" for e in ENVS if e != "staging"} & ids


@pytest.mark.parametrize("env", ENVS)
def test_every_role_with_every_attribute_and_no_password(env: str, all_on: dict, cdktf_testing: Any) -> None:
    s = settings_mod.load(env)
    doc = all_on[s.access_stack_id]
    raw = _raw(doc)
    for r in roles.model(s).roles:
        props = {"name": r.name, "login": r.login, "superuser": False, "bypass_row_level_security": False,
                 "create_database": False, "create_role": False, "replication": False, "inherit": True}
        assert cdktf_testing.to_have_resource_with_properties(raw, "postgresql_role", props), r.name
    assert not cdktf_testing.to_have_resource_with_properties(raw, "postgresql_role",
                                                              {"name": s.app_role, "superuser": True})
    for name, body in doc["resource"]["postgresql_role"].items():
        assert not {"password", "password_wo", "encrypted_password"} & body.keys(), name
    (provider,) = doc["provider"]["postgresql"]
    assert "password" not in provider and provider["superuser"] is False
    assert provider["username"] == s.master_username and provider["database"] == s.db_name


def test_grants_defaults_schema_and_extension(all_on: dict, cdktf_testing: Any) -> None:
    s = settings_mod.load("dev")
    raw = _raw(all_on[s.access_stack_id])
    db_privs = ["CONNECT", "TEMPORARY", "CREATE"]
    assert cdktf_testing.to_have_resource_with_properties(raw, "postgresql_grant", {
        "database": s.db_name, "object_type": "database", "privileges": db_privs,
        "role": f"${{postgresql_role.{s.app_role}.name}}"})
    assert cdktf_testing.to_have_resource_with_properties(raw, "postgresql_grant", {
        "object_type": "schema", "schema": "public", "role": "public", "privileges": ["USAGE"]})
    assert cdktf_testing.to_have_resource_with_properties(raw, "postgresql_schema", {
        "name": s.tenancy_schema, "owner": s.master_username, "if_not_exists": True})
    assert cdktf_testing.to_have_resource_with_properties(raw, "postgresql_default_privileges", {
        "owner": f"${{postgresql_role.{s.migrator_role}.name}}", "object_type": "table", "privileges": ["SELECT"],
        "role": f"${{postgresql_role.{s.reporting_role}.name}}"})
    assert cdktf_testing.to_have_resource_with_properties(raw, "postgresql_grant_role", {
        "role": s.master_username, "grant_role": f"${{postgresql_role.{s.migrator_role}.name}}"})
    assert cdktf_testing.to_have_resource_with_properties(raw, "postgresql_extension",
                                                          {"name": "pg_stat_statements", "database": s.db_name})
    # The database is RDS's (db_name on the instance): referenced, never managed (or dropped) here.
    assert not cdktf_testing.to_have_resource(raw, "postgresql_database")


def test_strict_profile_drops_create_on_the_database(synth_in_process: Any, cdktf_testing: Any) -> None:
    s = settings_mod.load("dev", None, access_stack=True, app_create_on_database=False)
    raw = _raw(synth_in_process([s])[s.access_stack_id])
    assert cdktf_testing.to_have_resource_with_properties(raw, "postgresql_grant", {
        "object_type": "database", "role": f"${{postgresql_role.{s.app_role}.name}}",
        "privileges": ["CONNECT", "TEMPORARY"]})


def test_connection_host_from_the_instance_or_the_endpoint_setting(all_on: dict, synth_in_process: Any) -> None:
    dev = all_on["qualisys-access-dev"]
    assert dev["data"]["aws_db_instance"]["instance"]["db_instance_identifier"] == "qualisys-db-dev"
    (p,) = dev["provider"]["postgresql"]
    assert p["host"] == "${data.aws_db_instance.instance.address}" and p["sslmode"] == "require"
    local = settings_mod.load("local")
    (lp,) = all_on[local.access_stack_id]["provider"]["postgresql"]
    host, port = local.db_endpoint.rsplit(":", 1)
    assert (lp["host"], lp["port"]) == (host, int(port))
    s = settings_mod.load("prod", None, access_stack=True, ca_bundle="/etc/ssl/rds-global-bundle.pem")
    (pp,) = synth_in_process([s])[s.access_stack_id]["provider"]["postgresql"]
    assert (pp["sslmode"], pp["sslrootcert"]) == ("verify-full", "/etc/ssl/rds-global-bundle.pem")


def test_state_sits_beside_the_database_stack(all_on: dict) -> None:
    s = settings_mod.load("prod")
    backend = all_on[s.access_stack_id]["terraform"]["backend"]["s3"]
    assert backend["bucket"] == s.state_bucket
    assert backend["key"] == "tenantdb/prod/qualisys-access-prod.tfstate" != s.state_key


def test_check_asserts_the_json_and_skips_validate(with_access: dict[str, Path], tmp_path: Path) -> None:
    s = settings_mod.load("dev")
    got = {c.id: c for c in check.access_checks(s, with_access)}
    assert got["ACCESS-STACK"].status is Status.PASS, got["ACCESS-STACK"].actual
    assert (got["ACCESS-TF-VALIDATE"].status is Status.SKIP
            and "not in the offline mirror" in got["ACCESS-TF-VALIDATE"].detail)
    # A password slipped onto a role FAILs, naming it.
    doc = json.loads((with_access[s.access_stack_id] / "cdk.tf.json").read_text())
    doc["resource"]["postgresql_role"][s.app_role]["password"] = "x"
    bad = tmp_path / s.access_stack_id
    bad.mkdir()
    (bad / "cdk.tf.json").write_text(json.dumps(doc))
    failed = {c.id: c for c in check.access_checks(s, {s.access_stack_id: bad})}["ACCESS-STACK"]
    assert failed.status is Status.FAIL and "password set" in failed.actual
    # Not synthesized: nothing to say, unless the settings asked for it (then ERROR, never PASS).
    assert check.access_checks(s, {}) == []
    on = s.replaced(access_stack=True)
    assert [c.status for c in check.access_checks(on, {})] == [Status.ERROR]
