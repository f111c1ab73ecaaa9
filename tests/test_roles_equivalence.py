"""One role model, two renderings: the access stack (Terraform JSON) and the bootstrap (SQL, run
against a real PostgreSQL) must declare the same roles, attributes, memberships and grants.

The stronger form of the comparison: not the SQL text but the catalog after a real bootstrap,
read into the same normalized structure as the synthesized JSON (tests/access_model.py).
Then the access stack's mode: the roles and grants made the way the provider makes them (the
binary is not on this machine: a stand-in that reads only the JSON), and the bootstrap with
``access_stack`` on leaves them alone, does the rest, and verify passes the same checks.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from psycopg import sql

from tenantdb import verify
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.bootstrap import roles
from tenantdb.errors import ToolkitError
from tenantdb.report import Status
from tests import access_model
from tests.fixtures_pg import connect_as
from tests.test_posture import ISO_IDS, iso_settings  # noqa: F401 - fixture

TF_KINDS = ("roles", "members", "database", "schema", "schema_owner", "defaults", "extensions")


@pytest.fixture
def fresh(pg_fresh, pg_super, iso_settings):
    """pg_fresh, and without the reporting role (reset_server predates it; nothing else depends on it)."""
    pg_super.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(iso_settings.reporting_role)))
    return pg_fresh


def access_doc(synth_in_process: Any, s) -> dict[str, Any]:
    return synth_in_process([s.replaced(access_stack=True)])[s.access_stack_id]


def catalog(pg_cluster, pg_master, s) -> dict[str, set[tuple]]:
    names = [r.name for r in roles.model(s).roles]
    with connect_as(pg_cluster, pg_master.user, pg_master.password, s.db_name) as conn:
        return access_model.from_catalog(conn, names, [s.tenancy_schema, "public"])


def object_grants_live(pg_super, s) -> set[tuple]:
    names = [r.name for r in roles.model(s).roles]
    rows = pg_super.execute(
        "SELECT pg_get_userbyid(x.grantee), p.proname, x.privilege_type FROM pg_proc p, aclexplode(p.proacl) x "
        "WHERE p.pronamespace = %(s)s::regnamespace AND pg_get_userbyid(x.grantee) = ANY(%(n)s) UNION "
        "SELECT pg_get_userbyid(x.grantee), c.relname, x.privilege_type FROM pg_class c, aclexplode(c.relacl) x "
        "WHERE c.relnamespace = %(s)s::regnamespace AND pg_get_userbyid(x.grantee) = ANY(%(n)s) UNION "
        # column grants (the migrator records each tenant's revisions: UPDATE (revisions) on the registry)
        "SELECT pg_get_userbyid(x.grantee), c.relname, x.privilege_type FROM pg_class c "
        "JOIN pg_attribute a ON a.attrelid = c.oid, aclexplode(a.attacl) x "
        "WHERE c.relnamespace = %(s)s::regnamespace AND pg_get_userbyid(x.grantee) = ANY(%(n)s)",
        {"s": s.tenancy_schema, "n": names}, dbname=s.db_name)
    return set(rows)


def object_grants_declared(s) -> set[tuple]:
    return {(grantee, obj.split("(")[0], p) for grantee, g in roles.model(s).object_grants() for obj in g.objects
            for p in g.privileges}


def test_json_names_every_modelled_role_and_no_object_grants(synth_in_process, iso_settings) -> None:
    s = iso_settings
    got = access_model.from_json(access_doc(synth_in_process, s))
    assert {r[0] for r in got["roles"]} == {s.app_role, s.migrator_role, s.platform_admin_role, s.reporting_role}
    assert "objects" not in got, "grants on the bootstrap's objects must stay with the bootstrap"


@pytest.mark.parametrize("create_on_db", [True, False])
def test_bootstrap_catalog_equals_access_stack(fresh, pg_cluster, pg_master, pg_super, iso_settings,
                                               synth_in_process, create_on_db) -> None:
    s = iso_settings.replaced(app_create_on_database=create_on_db)
    declared = access_model.from_json(access_doc(synth_in_process, s))
    bootstrap.run(s, master_dsn=pg_master.dsn())
    live = catalog(pg_cluster, pg_master, s)
    for kind in TF_KINDS:
        assert live[kind] == declared[kind], (kind, sorted(live[kind] ^ declared[kind]))
    # The one difference the two profiles make, seen on both sides.
    assert ((s.app_role, "CREATE") in declared["database"]) is create_on_db
    # What Terraform leaves to the bootstrap is exactly the model's object grants.
    assert object_grants_live(pg_super, s) == object_grants_declared(s)


def test_the_comparison_sees_a_difference(fresh, pg_cluster, pg_master, pg_super, iso_settings,
                                          synth_in_process) -> None:
    """The same comparison fails when the catalog drifts from the declaration."""
    s = iso_settings
    declared = access_model.from_json(access_doc(synth_in_process, s))
    bootstrap.run(s, master_dsn=pg_master.dsn())
    pg_super.execute(f"ALTER ROLE {s.reporting_role} LOGIN; GRANT CREATE ON SCHEMA tenancy TO {s.reporting_role}",
                     dbname=s.db_name)
    live = catalog(pg_cluster, pg_master, s)
    assert live["roles"] != declared["roles"]
    assert (s.reporting_role, s.tenancy_schema, "CREATE") in live["schema"] - declared["schema"]


def test_with_the_access_stack_the_bootstrap_leaves_roles_and_grants_alone(
        fresh, pg_cluster, pg_master, pg_super, iso_settings, synth_in_process) -> None:
    s = iso_settings.replaced(access_stack=True)
    doc = access_doc(synth_in_process, s)
    declared = access_model.from_json(doc)
    with connect_as(pg_cluster, pg_master.user, pg_master.password, s.db_name) as conn:
        access_model.apply_like_the_provider(conn, doc)
    applied = catalog(pg_cluster, pg_master, s)

    steps = {x.name: x for x in bootstrap.run(s, master_dsn=pg_master.dsn()).steps}
    for name in ("roles", "database-grants", "tenancy-roles"):
        assert steps[name].skipped and s.access_stack_id in steps[name].detail, (name, steps[name])
    for name in ("extensions", "tenancy", "tenant-registry", "enable-isolation", "object-grants"):
        assert not steps[name].skipped, name
    assert steps["object-grants"].changed

    after = catalog(pg_cluster, pg_master, s)
    for kind in TF_KINDS:  # nothing Terraform declares was changed by the bootstrap
        assert after[kind] == applied[kind] == declared[kind], (kind, sorted(after[kind] ^ declared[kind]))
    assert object_grants_live(pg_super, s) == object_grants_declared(s)

    again = bootstrap.run(s, master_dsn=pg_master.dsn())
    assert again.changed == 0, [x for x in again.steps if x.changed]
    checks = {c.id: c for c in verify.run(s, master_dsn=pg_master.dsn()).checks}
    for cid in [*ISO_IDS, "ISO-PROBE", "AC8"]:
        assert checks[cid].status is Status.PASS, (cid, checks[cid].detail)


def test_with_the_access_stack_missing_roles_stop_the_bootstrap(fresh, pg_master, pg_super, iso_settings) -> None:
    s = iso_settings.replaced(access_stack=True)
    with pytest.raises(ToolkitError, match=f"apply the access stack {s.access_stack_id} first.*nothing was changed"):
        bootstrap.run(s, master_dsn=pg_master.dsn())
    assert pg_super.execute("SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)",
                            ([r.name for r in roles.model(s).roles],)) == [(0,)]
    assert pg_super.execute("SELECT count(*) FROM pg_namespace WHERE nspname = %s", (s.tenancy_schema,),
                            dbname=s.db_name) == [(0,)]


def test_reporting_reads_a_tenant_table_only_under_row_security(fresh, pg_cluster, pg_master, pg_super,
                                                                iso_settings) -> None:
    """The reporting role's default privileges reach a table the migrator creates later; row security
    still binds it (no tenant set: no rows)."""
    from tenantdb.database.tenancy import tenants

    s = iso_settings
    bootstrap.run(s, master_dsn=pg_master.dsn())
    tenants.create(s, "acme", master_dsn=pg_master.dsn())
    pg_super.execute(f"SET ROLE {s.migrator_role}; CREATE TABLE tenant_acme.t (id int, tenant_id uuid NOT NULL); "  # noqa: S608 - a DBA's script; the role is a settings-validated identifier
                     "SELECT tenancy.enable_isolation('tenant_acme.t'); RESET ROLE; "
                     "INSERT INTO tenant_acme.t SELECT 1, tenant_id FROM tenancy.tenants", dbname=s.db_name)
    pg_super.execute(f"CREATE ROLE rep_bob LOGIN; GRANT {s.reporting_role} TO rep_bob")
    try:
        with pg_cluster.superuser_connect(s.db_name) as conn:
            conn.execute("SET ROLE rep_bob")
            assert conn.execute("SELECT count(*) FROM tenant_acme.t").fetchone() == (0,)
            tid = pg_super.execute("SELECT tenant_id::text FROM tenancy.tenants", dbname=s.db_name)[0][0]
            conn.execute("SELECT set_config(%s, %s, false)", (s.tenant_setting, tid))
            assert conn.execute("SELECT count(*) FROM tenant_acme.t").fetchone() == (1,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("DELETE FROM tenant_acme.t")
    finally:
        pg_super.execute("DROP OWNED BY rep_bob", dbname=s.db_name)
        pg_super.execute("DROP ROLE rep_bob")
