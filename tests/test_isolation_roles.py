"""The role model (tenantdb.database.bootstrap.roles) against the live catalog after a bootstrap, and the stricter
profile without app_user's CREATE on the database."""

from __future__ import annotations

import psycopg
import pytest

from tenantdb import verify
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.bootstrap import roles
from tenantdb.database.tenancy import tenants
from tenantdb.errors import ToolkitError
from tenantdb.report import Status
from tests.test_isolation import login
from tests.test_posture import ISO_IDS, iso_settings  # noqa: F401 - fixture

def live_role(pg_super, s, name: str) -> dict[str, object]:
    row = pg_super.execute(
        "SELECT rolcanlogin, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole, rolreplication, rolinherit "
        "FROM pg_roles WHERE rolname = %s", (name,))[0]
    attrs = dict(zip(("rolcanlogin", "rolsuper", "rolbypassrls", "rolcreatedb", "rolcreaterole", "rolreplication",
                      "rolinherit"), row, strict=True))
    # Explicit grants to the role (PUBLIC's default CONNECT, TEMPORARY are not the model's).
    privs = pg_super.execute("SELECT a.privilege_type FROM pg_database d, aclexplode(d.datacl) a "
                             "WHERE d.datname = %s AND a.grantee = %s::regrole", (s.db_name, name))
    return {"attributes": attrs, "database": tuple(sorted(p for (p,) in privs))}


@pytest.mark.parametrize("create_on_db", [True, False])
def test_every_modelled_role_is_live_as_declared(pg_fresh, pg_master, pg_super, iso_settings, create_on_db):
    s = iso_settings.replaced(app_create_on_database=create_on_db)
    bootstrap.run(s, master_dsn=pg_master.dsn())
    for role in roles.model(s).roles:
        live = live_role(pg_super, s, role.name)
        assert live["attributes"] == role.attributes(), role.name
        declared_db = next(g.privileges for g in role.grants if g.object_type == "database")
        assert live["database"] == tuple(sorted(declared_db)), role.name
        for g in role.grants:
            if g.object_type == "schema":
                assert pg_super.execute("SELECT has_schema_privilege(%s, %s, 'USAGE')", (role.name, g.schema),
                                        dbname=s.db_name) == [(True,)]
            if g.object_type in ("table", "function"):
                kind = "table" if g.object_type == "table" else "function"
                for obj, priv in ((o, p) for o in g.objects for p in g.privileges):
                    ref = f"{g.schema}.{obj}"
                    assert pg_super.execute(f"SELECT has_{kind}_privilege(%s, %s, %s)", (role.name, ref, priv),
                                            dbname=s.db_name) == [(True,)], (role.name, ref, priv)
        members = {m for (m,) in pg_super.execute(
            "SELECT pg_get_userbyid(member) FROM pg_auth_members WHERE roleid = %s::regrole", (role.name,))}
        assert {pg_master.user if m == roles.MASTER else m for m in role.members} <= members, role.name
    # app_user may run the tenant function but not the isolation helper; only the migrator may.
    assert pg_super.execute("SELECT has_function_privilege(r, 'tenancy.enable_isolation(regclass)', 'EXECUTE') "
                            "FROM unnest(ARRAY[%s, %s, 'public']) r", (s.app_role, s.migrator_role),
                            dbname=s.db_name) == [(False,), (True,), (False,)]


def test_the_strict_profile_keeps_every_iso_check_passing(pg_fresh, pg_master, pg_super, pg_cluster, iso_settings):
    s = iso_settings.replaced(app_create_on_database=False)
    bootstrap.run(s, master_dsn=pg_master.dsn())
    tenants.create(s, "acme", master_dsn=pg_master.dsn())
    checks = {c.id: c for c in verify.run(s, master_dsn=pg_master.dsn()).checks}
    for cid in [*ISO_IDS, "ISO-PROBE", "AC8"]:
        assert checks[cid].status is Status.PASS, (cid, checks[cid].detail)
    conn = login(pg_cluster, pg_super, s, s.app_role)
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE SCHEMA side")
    finally:
        conn.close()


def test_a_migrator_given_bypassrls_stops_the_bootstrap_with_the_fix(pg_fresh, pg_master, pg_super, iso_settings):
    s = iso_settings
    bootstrap.run(s, master_dsn=pg_master.dsn())
    pg_super.execute(f"ALTER ROLE {s.migrator_role} BYPASSRLS")
    with pytest.raises(ToolkitError,
                       match=f'superuser must run: ALTER ROLE "{s.migrator_role}" NOBYPASSRLS;.*nothing was changed'):
        bootstrap.run(s, master_dsn=pg_master.dsn())
    checks = {c.id: c for c in verify.run(s, master_dsn=pg_master.dsn()).checks}
    assert f"role {s.migrator_role}: BYPASSRLS" in checks["ISO-SUPERUSER"].detail


def test_drifted_migrator_and_platform_admin_are_converged(pg_fresh, pg_master, pg_super, iso_settings):
    s = iso_settings
    bootstrap.run(s, master_dsn=pg_master.dsn())
    pg_super.execute(f"ALTER ROLE {s.migrator_role} CREATEDB NOLOGIN; ALTER ROLE {s.platform_admin_role} LOGIN; "
                     f"REVOKE USAGE ON SCHEMA tenancy FROM {s.migrator_role}; CREATE ROLE stray; "
                     f"GRANT {s.platform_admin_role} TO stray", dbname=s.db_name)
    try:
        step = {x.name: x for x in bootstrap.run(s, master_dsn=pg_master.dsn()).steps}["tenancy-roles"]
        assert step.changed and step.detail.startswith("converged")
        assert live_role(pg_super, s, s.migrator_role)["attributes"] == roles.model(s).migrator.attributes()
        assert live_role(pg_super, s, s.platform_admin_role)["attributes"]["rolcanlogin"] is False
        assert pg_super.execute("SELECT count(*) FROM pg_auth_members WHERE member = 'stray'::regrole") == [(0,)]
        again = {x.name: x for x in bootstrap.run(s, master_dsn=pg_master.dsn()).steps}["tenancy-roles"]
        assert not again.changed
    finally:
        pg_super.execute("DROP ROLE stray")
