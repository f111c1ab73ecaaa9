"""ISO-* posture checks against a real PostgreSQL: a clean tenant set-up passes, and each
attacker-style or careless change makes the named check FAIL, naming the object and the fix."""

from __future__ import annotations

import pytest

from tenantdb import settings as settings_mod, verify
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.tenancy import tenants
from tenantdb.report import Status
from tenantdb.verify import posture
from tests.fixtures_pg import TEST_ENV

ISO_IDS = [c.id for c in posture.ISO_CHECKS]


@pytest.fixture
def iso_settings(pg_overlay):
    # The test cluster's initdb superuser "postgres" plays RDS's rdsadmin (as in the local profile).
    rds_only = settings_mod.Settings.model_fields["aws_internal_roles"].default
    return settings_mod.load(TEST_ENV, pg_overlay, aws_internal_roles=(*rds_only, "postgres"))


@pytest.fixture
def two_tenants(pg_fresh, pg_master, pg_super, iso_settings):
    """Bootstrapped, two tenants with one isolated table each (as the migrator would make them).

    app_user's privileges are set here explicitly rather than left to the tenant schema's default
    privileges: DML on the isolated table, nothing on its identity sequence (ISO-SEQUENCE; an
    identity column needs no privilege on its sequence to insert)."""
    s = iso_settings
    bootstrap.run(s, master_dsn=pg_master.dsn())
    for slug in ("alpha", "beta"):
        tid = tenants.create(s, slug, master_dsn=pg_master.dsn())
        as_migrator(pg_super, s, f"CREATE TABLE tenant_{slug}.projects (id int GENERATED ALWAYS AS IDENTITY, "  # noqa: S608 - a DBA's script with the test's constant slugs
                    f"tenant_id uuid NOT NULL, name text); "
                    f"SELECT tenancy.enable_isolation('tenant_{slug}.projects'); "
                    f"GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_{slug}.projects TO {s.app_role}; "
                    f"REVOKE ALL ON SEQUENCE tenant_{slug}.projects_id_seq FROM {s.app_role}; "
                    f"SELECT set_config('app.current_tenant', '{tid}', false); "
                    f"INSERT INTO tenant_{slug}.projects (tenant_id, name) VALUES ('{tid}', 'p1')")
    return s


def as_migrator(pg_super, s, statements: str) -> None:
    pg_super.execute(f"SET ROLE {s.migrator_role}; {statements}", dbname=s.db_name)


def iso_report(s, pg_master) -> dict[str, object]:
    rep = verify.run(s, master_dsn=pg_master.dsn())
    return {c.id: c for c in rep.checks if c.id.startswith("ISO")}


def assert_only_failing(checks, *failing: str) -> None:
    for cid in ISO_IDS:
        want = Status.FAIL if cid in failing else Status.PASS
        assert checks[cid].status is want, (cid, checks[cid])


def test_a_clean_tenant_set_up_passes_every_iso_check(two_tenants, pg_master):
    checks = iso_report(two_tenants, pg_master)
    assert_only_failing(checks)
    assert "2 tenant table(s) in 2 tenant schema(s), 2 isolated" in checks["ISO-RLS"].actual
    assert checks["ISO-CVE"].actual.startswith("15.")


def test_posture_is_read_only_and_one_query(two_tenants, pg_master, pg_super):
    s = two_tenants
    state = "SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM (SELECT c.* FROM pg_class c) x"
    before = pg_super.execute(state, dbname=s.db_name)
    import psycopg
    with psycopg.connect(pg_master.dsn(s.db_name)) as conn:
        conn.execute("SET default_transaction_read_only = on")
        findings, counts = posture.collect(conn, s)
    assert findings == {} and counts["isolated"] == 2
    assert pg_super.execute(state, dbname=s.db_name) == before


def test_a_table_without_rls_in_a_tenant_schema_fails_naming_it(two_tenants, pg_master, pg_super):
    s = two_tenants
    # DML for app_user, as the tenant schema's default privileges give it on every new table.
    as_migrator(pg_super, s, "CREATE TABLE tenant_alpha.invoices (id int, tenant_id uuid); "
                "GRANT SELECT, INSERT, UPDATE, DELETE ON tenant_alpha.invoices TO app_user")
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-RLS", "ISO-WRITE")
    detail = checks["ISO-RLS"].detail
    assert "tenant_alpha.invoices: RLS off, not forced, no tenant-context policy" in detail
    assert "fix: SELECT tenancy.enable_isolation('tenant_alpha.invoices') as its owner" in detail
    assert ("tenant_alpha.invoices: app_user may INSERT, UPDATE, DELETE and row security is not in force there"
            in checks["ISO-WRITE"].detail)

    # A tenant-schema table without tenant_id is named too, with the column to add.
    as_migrator(pg_super, s, "SELECT tenancy.enable_isolation('tenant_alpha.invoices'); "
                "CREATE TABLE tenant_beta.notes (body text); REVOKE ALL ON tenant_beta.notes FROM app_user")
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-RLS")
    detail = checks["ISO-RLS"].detail
    assert "tenant_beta.notes" in detail and "add tenant_id uuid NOT NULL" in detail
    assert "invoices" not in detail


def test_a_tenant_id_table_in_any_schema_must_be_isolated(two_tenants, pg_master, pg_super):
    s = two_tenants
    pg_super.execute("CREATE SCHEMA shared; CREATE TABLE shared.audit (tenant_id uuid, what text)", dbname=s.db_name)
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-RLS")
    assert "shared.audit" in checks["ISO-RLS"].detail
    # RLS enabled and forced but no policy that uses the tenant context is still a finding.
    pg_super.execute("ALTER TABLE shared.audit ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY; "
                     "CREATE POLICY mine ON shared.audit USING (what = current_user)", dbname=s.db_name)
    checks = iso_report(s, pg_master)
    assert "shared.audit: no tenant-context policy" in checks["ISO-RLS"].detail
    assert "policy mine on shared.audit: applies to app_user and does not use the tenant context" in \
        checks["ISO-PERMISSIVE"].detail


def test_a_tenant_table_handed_to_app_user_fails(two_tenants, pg_master, pg_super):
    s = two_tenants
    pg_super.execute("ALTER TABLE tenant_beta.projects OWNER TO app_user", dbname=s.db_name)
    checks = iso_report(s, pg_master)
    assert checks["ISO-OWNER"].status is Status.FAIL
    assert ("tenant_beta.projects: owned by app_user -> fix: ALTER TABLE tenant_beta.projects OWNER TO app_migrator"
            in checks["ISO-OWNER"].detail)
    pg_super.execute("ALTER TABLE tenant_beta.projects OWNER TO app_migrator; "
                     "ALTER SCHEMA tenant_beta OWNER TO app_user", dbname=s.db_name)
    assert "schema tenant_beta: owned by app_user" in iso_report(s, pg_master)["ISO-OWNER"].detail


def test_a_partition_attached_later_fails_until_isolated(two_tenants, pg_master, pg_super):
    s = two_tenants
    as_migrator(pg_super, s, "CREATE TABLE tenant_alpha.events (tenant_id uuid NOT NULL, at date) "
                "PARTITION BY RANGE (at); CREATE TABLE tenant_alpha.events_2025 PARTITION OF tenant_alpha.events "
                "FOR VALUES FROM ('2025-01-01') TO ('2026-01-01'); "
                "SELECT tenancy.enable_isolation('tenant_alpha.events'); "
                "CREATE TABLE tenant_alpha.events_2026 PARTITION OF tenant_alpha.events "
                "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01'); "
                "GRANT SELECT, INSERT ON tenant_alpha.events_2026 TO app_user")
    checks = iso_report(s, pg_master)
    # Written directly, the partition's own missing row security is what applies: a write finding too.
    assert_only_failing(checks, "ISO-PARTITION", "ISO-WRITE")
    detail = checks["ISO-PARTITION"].detail
    assert "tenant_alpha.events_2026: RLS off, not forced, no tenant-context policy " \
        "(partition of tenant_alpha.events)" in detail and "enable_isolation('tenant_alpha.events')" in detail
    assert checks["ISO-WRITE"].detail.startswith("tenant_alpha.events_2026: app_user may INSERT")
    as_migrator(pg_super, s, "SELECT tenancy.enable_isolation('tenant_alpha.events')")
    assert_only_failing(iso_report(s, pg_master))


def test_an_always_true_policy_for_app_user_fails(two_tenants, pg_master, pg_super):
    s = two_tenants
    as_migrator(pg_super, s, "CREATE POLICY debug ON tenant_alpha.projects FOR SELECT USING (true)")
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-PERMISSIVE", "ISO-POLICY-EXACT")
    assert "policy debug on tenant_alpha.projects" in checks["ISO-PERMISSIVE"].detail
    # Restrictive, or only for platform_admin: no longer a way around the tenant policy, but still not
    # one the toolkit generates, so the exact-policy check names both.
    as_migrator(pg_super, s, "DROP POLICY debug ON tenant_alpha.projects; "
                "CREATE POLICY debug ON tenant_alpha.projects AS RESTRICTIVE FOR SELECT USING (true); "
                "CREATE POLICY ops ON tenant_alpha.projects FOR SELECT TO platform_admin USING (true)")
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-POLICY-EXACT")
    detail = checks["ISO-POLICY-EXACT"].detail
    assert "policy debug on tenant_alpha.projects: not a policy the toolkit generates" in detail
    assert "policy ops on tenant_alpha.projects" in detail and "DROP POLICY ops ON tenant_alpha.projects" in detail


def test_views_over_tenant_tables_must_be_security_invoker(two_tenants, pg_master, pg_super):
    s = two_tenants
    as_migrator(pg_super, s, "CREATE VIEW tenant_alpha.v1 AS SELECT * FROM tenant_alpha.projects; "
                "CREATE VIEW tenant_alpha.v2 WITH (security_invoker) AS SELECT * FROM tenant_alpha.v1")
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-VIEW")
    detail = checks["ISO-VIEW"].detail
    assert "tenant_alpha.v1: view runs with its owner's rights" in detail and "v2" not in detail
    assert "ALTER VIEW tenant_alpha.v1 SET (security_invoker = true)" in detail
    as_migrator(pg_super, s, "ALTER VIEW tenant_alpha.v1 SET (security_invoker = on)")
    assert_only_failing(iso_report(s, pg_master))


def test_a_bypassrls_role_and_memberships_of_app_user_fail(two_tenants, pg_master, pg_super):
    s = two_tenants
    pg_super.execute("CREATE ROLE sneaky BYPASSRLS")
    try:
        pg_super.execute("GRANT app_migrator TO app_user")
        checks = iso_report(s, pg_master)
        # Acting as the owner, app_user could switch RLS off and holds the owner's TRUNCATE and its
        # sequences' SELECT and UPDATE.
        assert_only_failing(checks, "ISO-SUPERUSER", "ISO-MEMBERSHIP", "ISO-OWNER", "ISO-GRANTS", "ISO-SEQUENCE")
        assert ("tenant_alpha.projects: owned by app_migrator, which app_user can act as -> fix: "
                "REVOKE app_migrator FROM app_user") in checks["ISO-OWNER"].detail
        assert "role sneaky: BYPASSRLS" in checks["ISO-SUPERUSER"].detail
        assert "postgres" not in checks["ISO-SUPERUSER"].detail  # the stand-in's rdsadmin is allowed
        assert "role app_migrator: app_user is a member" in checks["ISO-MEMBERSHIP"].detail
        assert "REVOKE app_migrator FROM app_user" in checks["ISO-MEMBERSHIP"].detail
        # Indirectly, through a role app_user belongs to, counts too.
        pg_super.execute("REVOKE app_migrator FROM app_user; CREATE ROLE middle; GRANT middle TO app_user; "
                         "GRANT platform_admin TO middle")
        detail = iso_report(s, pg_master)["ISO-MEMBERSHIP"].detail
        assert detail.startswith("role platform_admin: app_user is a member")
    finally:
        pg_super.execute("DROP ROLE sneaky; DROP ROLE IF EXISTS middle")


def test_without_the_allow_list_the_stand_ins_superuser_is_a_finding(two_tenants, pg_master, pg_overlay):
    rds_only = settings_mod.Settings.model_fields["aws_internal_roles"].default
    s = settings_mod.load(TEST_ENV, pg_overlay, aws_internal_roles=rds_only)
    checks = iso_report(s, pg_master)
    assert checks["ISO-SUPERUSER"].status is Status.FAIL and "role postgres: SUPERUSER and BYPASSRLS" in \
        checks["ISO-SUPERUSER"].detail


def test_security_definer_without_search_path_fails(two_tenants, pg_master, pg_super):
    s = two_tenants
    as_migrator(pg_super, s, "CREATE FUNCTION tenant_alpha.leak() RETURNS int LANGUAGE sql SECURITY DEFINER "
                "AS 'SELECT 1'; CREATE FUNCTION tenant_alpha.ok() RETURNS int LANGUAGE sql SECURITY DEFINER "
                "SET search_path = pg_catalog, pg_temp AS 'SELECT 1'")
    checks = iso_report(s, pg_master)
    # Both run as the migrator and PUBLIC may execute them: app_user gains the owner's rights.
    assert_only_failing(checks, "ISO-SECDEF", "ISO-SECDEF-EXEC")
    assert "function tenant_alpha.leak(): SECURITY DEFINER without SET search_path" in checks["ISO-SECDEF"].detail
    assert "ok()" not in checks["ISO-SECDEF"].detail
    assert ("function tenant_alpha.ok(): SECURITY DEFINER: runs as app_migrator, and app_user may execute it "
            "(through PUBLIC)") in checks["ISO-SECDEF-EXEC"].detail
    as_migrator(pg_super, s, "REVOKE EXECUTE ON FUNCTION tenant_alpha.leak(), tenant_alpha.ok() FROM PUBLIC")
    assert_only_failing(iso_report(s, pg_master), "ISO-SECDEF")


def test_public_create_on_schema_public_and_extra_grants_fail(two_tenants, pg_master, pg_super):
    s = two_tenants
    pg_super.execute("GRANT CREATE ON SCHEMA public TO PUBLIC; GRANT TRUNCATE, REFERENCES ON "
                     "tenant_alpha.projects TO app_user; GRANT SELECT ON tenancy.tenants TO PUBLIC", dbname=s.db_name)
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-PUBLIC-CREATE", "ISO-GRANTS")
    detail = checks["ISO-GRANTS"].detail
    assert "tenant_alpha.projects: app_user may REFERENCES, TRUNCATE" in detail
    assert "tenancy.tenants: app_user may SELECT" in detail


@pytest.mark.parametrize("version_num, status", [(150013, Status.FAIL), (150014, Status.PASS),
                                                 (160009, Status.FAIL), (160010, Status.PASS),
                                                 (170006, Status.PASS)])
def test_the_engine_minor_must_carry_the_row_security_fixes(pg_settings, version_num, status):
    counts = {"app_exists": 1, "ctf_exists": 1, "server_version_num": version_num, "tables": 0,
              "partitions": 0, "isolated": 0, "tenant_schemas": 0, "policies": 0, "views": 0, "roles": 1,
              "all_policies": 0, "app_schemas": 0, "app_routines": 0, "catalog_texts": 0, "sequences": 0,
              "untenanted": 0, "untenanted_isolated": 0, "version_tables": 0, "unsecured": 0,
              "tenant_dependencies": 0}
    cve = {c.id: c for c in posture.evaluate(pg_settings, {}, counts)}["ISO-CVE"]
    assert cve.status is status, cve


def test_before_the_bootstrap_every_iso_check_is_an_error_not_a_pass(pg_fresh, pg_master, iso_settings):
    checks = iso_report(iso_settings, pg_master)
    for cid in [*ISO_IDS, "ISO-PROBE", "ISO-PROBE-ROLE"]:
        assert checks[cid].status is Status.ERROR, checks[cid]
    assert "run tenantdb bootstrap" in checks["ISO-RLS"].detail or "does not exist" in checks["ISO-RLS"].detail
