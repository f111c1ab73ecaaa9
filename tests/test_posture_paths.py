"""The ways around row security that are not a policy: writes where row security is not in
force (ISO-WRITE), tenant sequences (ISO-SEQUENCE), objects outside a tenant schema that pin it
(ISO-PINS), and untenanted tables bound to their schema's tenant (ISO-POLICY-EXACT, ISO-RLS).

Each condition is made the way a role outside the policy would make it (the superuser playing
a DBA, the migrator, or app_user on its own TLS login where it can), and verify's posture must
FAIL naming the object; the clean state, built explicitly as the toolkit's default privileges
will leave it, passes every ISO check."""

from __future__ import annotations

import psycopg
import pytest

from tenantdb.verify import posture
from tests.libpq_trace import round_trips
from tests.test_isolation import login, set_tenant, tenant_ids
from tests.test_posture import ISO_IDS, as_migrator, assert_only_failing, iso_report, iso_settings, two_tenants  # noqa: F401 - fixtures

WHOLE_TABLE = (
    "DO $t$ DECLARE b bytea; e text; BEGIN "
    "SELECT sha256(convert_to(t.schema_name || ':' || t.tenant_id::text, 'UTF8')) INTO b "
    "FROM tenancy.tenants t WHERE t.schema_name = '{schema}'; "
    # the expression exactly as enable_isolation builds it for a table without tenant_id
    "e := format('((SELECT %I.bound_tenant(%I.current_tenant_id(), %L, %L::bytea)) IS NOT NULL)', "
    "'tenancy', 'tenancy', '{schema}', b); "
    "EXECUTE 'ALTER TABLE {schema}.{table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY'; "
    "EXECUTE 'DROP POLICY IF EXISTS tenant_isolation ON {schema}.{table}'; "
    "EXECUTE format('CREATE POLICY tenant_isolation ON {schema}.{table} AS PERMISSIVE FOR ALL TO PUBLIC "
    "USING %s WITH CHECK %s', e, e); "
    "EXECUTE 'DROP POLICY IF EXISTS platform_admin_access ON {schema}.{table}'; "
    "EXECUTE 'CREATE POLICY platform_admin_access ON {schema}.{table} AS PERMISSIVE FOR ALL TO platform_admin "
    "USING (true) WITH CHECK (true)'; END $t$")
"""A table without tenant_id bound to its schema's tenant, as the migrator (enable_isolation's form)."""


def isolate_whole(pg_super, s, schema: str, table: str) -> None:
    as_migrator(pg_super, s, WHOLE_TABLE.format(schema=schema, table=table))


@pytest.fixture
def migrated(two_tenants, pg_super):
    """Two tenants as `tenantdb migrate` leaves them once the default privileges give app_user
    nothing on sequences and nothing on the version table: built here explicitly, as the migrator."""
    s = two_tenants
    for slug in ("alpha", "beta"):
        as_migrator(pg_super, s, f"CREATE TABLE tenant_{slug}.alembic_version (version_num varchar(32) NOT NULL "
                    f"PRIMARY KEY); REVOKE ALL ON tenant_{slug}.alembic_version FROM {s.app_role}")
    return s


def test_the_clean_state_passes_every_iso_check(migrated, pg_master):
    checks = iso_report(migrated, pg_master)
    assert_only_failing(checks)
    assert checks["ISO-RLS"].actual.startswith("2 tenant table(s) in 2 tenant schema(s), 2 isolated; "
                                               "2 allowed without tenant_id, 0 of them isolated")
    assert "2 version table(s): app_user may write none" in checks["ISO-WRITE"].actual
    assert "2 sequence(s) in tenant schemas, none usable by app_user; no serial column" in checks["ISO-SEQUENCE"].actual
    assert "none from outside the schema" in checks["ISO-PINS"].actual


# ----- ISO-WRITE ---------------------------------------------------------------------

def test_any_privilege_of_app_user_on_the_version_table_fails(migrated, pg_master, pg_super):
    s = migrated
    # Granted by a role outside the policy: directly, to PUBLIC, on a column, through a role.
    pg_super.execute("GRANT INSERT ON tenant_alpha.alembic_version TO app_user; "
                     "GRANT SELECT ON tenant_beta.alembic_version TO PUBLIC", dbname=s.db_name)
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-WRITE")
    detail = checks["ISO-WRITE"].detail
    assert "tenant_alpha.alembic_version: app_user may INSERT on the migration version table" in detail
    assert "fix: REVOKE ALL ON tenant_alpha.alembic_version FROM app_user, PUBLIC" in detail
    assert "tenant_beta.alembic_version: app_user may SELECT on the migration version table" in detail

    pg_super.execute("REVOKE ALL ON tenant_alpha.alembic_version, tenant_beta.alembic_version FROM app_user, PUBLIC; "
                     "GRANT UPDATE (version_num) ON tenant_alpha.alembic_version TO app_user; "
                     "CREATE ROLE helper; GRANT TRUNCATE ON tenant_beta.alembic_version TO helper; "
                     "GRANT helper TO app_user", dbname=s.db_name)
    try:
        detail = iso_report(s, pg_master)["ISO-WRITE"].detail
        assert "tenant_alpha.alembic_version: app_user may UPDATE on the migration version table" in detail
        assert "tenant_beta.alembic_version: app_user may TRUNCATE on the migration version table" in detail
    finally:
        pg_super.execute("DROP OWNED BY helper; DROP ROLE helper", dbname=s.db_name)
    assert_only_failing(iso_report(s, pg_master), "ISO-WRITE")  # the column grant is still there
    pg_super.execute("REVOKE ALL ON tenant_alpha.alembic_version FROM app_user", dbname=s.db_name)
    assert_only_failing(iso_report(s, pg_master))


def test_app_user_writing_an_untenanted_table_without_row_security_fails(migrated, pg_master, pg_super, pg_cluster):
    """settings untenanted_tables allows a table without tenant_id, isolated or not; but a write there
    without row security reaches every tenant: app_user, on its own login, shows it."""
    s = migrated.replaced(untenanted_tables=("countries",))
    as_migrator(pg_super, s, "CREATE TABLE tenant_alpha.countries (code text PRIMARY KEY, name text); "
                "REVOKE ALL ON tenant_alpha.countries FROM app_user; "
                "GRANT SELECT ON tenant_alpha.countries TO app_user")
    assert_only_failing(iso_report(s, pg_master))  # allowed, and read-only for app_user
    pg_super.execute("GRANT INSERT, UPDATE ON tenant_alpha.countries TO app_user", dbname=s.db_name)
    ids = tenant_ids(pg_super, s)
    conn = login(pg_cluster, pg_super, s, s.app_role)
    try:
        set_tenant(conn, ids["beta"])  # beta's context writes alpha's table: nothing stops it
        conn.execute("INSERT INTO tenant_alpha.countries VALUES ('xx', 'from beta')")
        conn.commit()
    finally:
        conn.close()
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-WRITE")  # not ISO-RLS: the table is allowed without row security
    assert ("tenant_alpha.countries: app_user may INSERT, UPDATE and row security is not in force there"
            in checks["ISO-WRITE"].detail)
    assert "or isolate it: SELECT tenancy.enable_isolation('tenant_alpha.countries') as its owner" in \
        checks["ISO-WRITE"].detail

    # Bound to its schema's tenant, the same grants are fine: beta's context no longer reaches it.
    isolate_whole(pg_super, s, "tenant_alpha", "countries")
    checks = iso_report(s, pg_master)
    assert_only_failing(checks)
    assert "3 allowed without tenant_id, 1 of them isolated" in checks["ISO-RLS"].actual
    conn = login(pg_cluster, pg_super, s, s.app_role)
    try:
        set_tenant(conn, ids["beta"])
        assert conn.execute("SELECT count(*) FROM tenant_alpha.countries").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO tenant_alpha.countries VALUES ('yy', 'from beta')")
        conn.rollback()
        set_tenant(conn, ids["alpha"])
        assert conn.execute("SELECT name FROM tenant_alpha.countries").fetchall() == [("from beta",)]
    finally:
        conn.close()


# ----- untenanted tables bound to their schema's tenant: ISO-POLICY-EXACT --------------

def test_only_the_generated_whole_table_policy_is_accepted_on_an_untenanted_table(migrated, pg_master, pg_super):
    s = migrated.replaced(untenanted_tables=("countries",))
    as_migrator(pg_super, s, "CREATE TABLE tenant_alpha.countries (code text); "
                "CREATE TABLE tenant_beta.notes (body text)")
    isolate_whole(pg_super, s, "tenant_alpha", "countries")
    isolate_whole(pg_super, s, "tenant_beta", "notes")  # not listed, but isolated: no finding either
    checks = iso_report(s, pg_master)
    assert_only_failing(checks)
    assert checks["ISO-RLS"].actual.startswith("3 tenant table(s) in 2 tenant schema(s), 3 isolated; "
                                               "3 allowed without tenant_id, 1 of them isolated")

    # Another schema's binding, a weakened check, the tenant_id form: each is named.
    as_migrator(pg_super, s, "ALTER POLICY tenant_isolation ON tenant_alpha.countries "
                "USING ((SELECT tenancy.current_tenant_id()) IS NOT NULL); "
                "ALTER POLICY tenant_isolation ON tenant_beta.notes WITH CHECK (true)")
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-POLICY-EXACT", "ISO-PERMISSIVE")
    detail = checks["ISO-POLICY-EXACT"].detail
    assert ("policy tenant_isolation on tenant_alpha.countries: USING (( SELECT tenancy.current_tenant_id() AS "
            "current_tenant_id) IS NOT NULL), not (( SELECT tenancy.bound_tenant(tenancy.current_tenant_id(), "
            "'tenant_alpha'::name, '\\x") in detail
    assert ("policy tenant_isolation on tenant_beta.notes: WITH CHECK true, not (( SELECT tenancy.bound_tenant("
            in detail)
    isolate_whole(pg_super, s, "tenant_alpha", "countries")
    isolate_whole(pg_super, s, "tenant_beta", "notes")
    assert_only_failing(iso_report(s, pg_master))


# ----- ISO-SEQUENCE --------------------------------------------------------------------

def test_usage_on_a_tenant_sequence_fails_and_identity_needs_none(migrated, pg_master, pg_super, pg_cluster):
    s = migrated
    ids = tenant_ids(pg_super, s)
    conn = login(pg_cluster, pg_super, s, s.app_role)
    try:
        # The clean state: an identity column inserts without any privilege on its sequence ...
        set_tenant(conn, ids["alpha"])
        conn.execute("INSERT INTO tenant_alpha.projects (tenant_id, name) VALUES (%s, 'p2')", (ids["alpha"],))
        conn.commit()
        # ... and alpha cannot draw beta's ids.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT nextval('tenant_beta.projects_id_seq')")
        conn.rollback()
        pg_super.execute("GRANT USAGE ON SEQUENCE tenant_beta.projects_id_seq TO app_user", dbname=s.db_name)
        assert conn.execute("SELECT nextval('tenant_beta.projects_id_seq')").fetchone()[0] > 0  # now it can
        conn.rollback()
    finally:
        conn.close()
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-SEQUENCE")
    assert ("tenant_beta.projects_id_seq: app_user may draw from it (USAGE: nextval, to the end of another "
            "tenant's ids) -> fix: REVOKE ALL ON SEQUENCE tenant_beta.projects_id_seq FROM app_user, PUBLIC"
            in checks["ISO-SEQUENCE"].detail)
    # Through PUBLIC counts as well.
    pg_super.execute("REVOKE USAGE ON SEQUENCE tenant_beta.projects_id_seq FROM app_user; "
                     "GRANT USAGE ON SEQUENCE tenant_beta.projects_id_seq TO PUBLIC", dbname=s.db_name)
    assert "tenant_beta.projects_id_seq: app_user may draw from it" in iso_report(s, pg_master)["ISO-SEQUENCE"].detail


def test_a_serial_column_in_a_tenant_schema_fails(migrated, pg_master, pg_super):
    s = migrated
    as_migrator(pg_super, s, "CREATE TABLE tenant_alpha.tickets (id serial PRIMARY KEY, tenant_id uuid NOT NULL); "
                "SELECT tenancy.enable_isolation('tenant_alpha.tickets'); "
                "REVOKE ALL ON SEQUENCE tenant_alpha.tickets_id_seq FROM app_user")
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-SEQUENCE")
    detail = checks["ISO-SEQUENCE"].detail
    assert "column tenant_alpha.tickets.id: its default calls nextval() (a serial column)" in detail
    assert "fix: use GENERATED ... AS IDENTITY: ALTER TABLE tenant_alpha.tickets ALTER COLUMN id DROP DEFAULT" in detail
    as_migrator(pg_super, s, "ALTER TABLE tenant_alpha.tickets ALTER COLUMN id DROP DEFAULT; "
                "DROP SEQUENCE tenant_alpha.tickets_id_seq; "
                "ALTER TABLE tenant_alpha.tickets ALTER COLUMN id ADD GENERATED BY DEFAULT AS IDENTITY; "
                "REVOKE ALL ON SEQUENCE tenant_alpha.tickets_id_seq FROM app_user")
    assert_only_failing(iso_report(s, pg_master))


# ----- ISO-PINS ------------------------------------------------------------------------

def test_app_users_own_objects_over_a_tenant_table_pin_it(migrated, pg_master, pg_super, pg_cluster):
    """A security_invoker view reads nothing it may not, yet it holds the tenant's table: a migration
    that drops the column it uses fails, and so does `tenant drop`."""
    s = migrated
    conn = login(pg_cluster, pg_super, s, s.app_role)
    conn.autocommit = True
    try:
        conn.execute("CREATE SCHEMA atk; "
                     "CREATE VIEW atk.v WITH (security_invoker) AS SELECT name FROM tenant_alpha.projects; "
                     "CREATE FUNCTION atk.n() RETURNS bigint LANGUAGE sql "
                     "BEGIN ATOMIC SELECT count(*) FROM tenant_beta.projects; END; "
                     "CREATE TABLE atk.rows (p tenant_alpha.projects)")
    finally:
        conn.close()
    with pytest.raises(psycopg.errors.DependentObjectsStillExist):
        as_migrator(pg_super, s, "ALTER TABLE tenant_alpha.projects DROP COLUMN name")
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-PINS")  # ISO-VIEW passes: the view is security_invoker
    detail = checks["ISO-PINS"].detail
    assert ("view atk.v (owner app_user) depends on tenant_alpha.projects: it pins the tenant's objects" in detail
            and "fix: DROP VIEW atk.v as its owner" in detail)
    assert "function atk.n() (owner app_user) depends on tenant_beta.projects" in detail
    assert "column p of table atk.rows (owner app_user) depends on tenant_alpha.projects" in detail
    pg_super.execute("DROP SCHEMA atk CASCADE", dbname=s.db_name)
    assert_only_failing(iso_report(s, pg_master))


def test_views_and_foreign_keys_of_other_roles_pin_a_tenant(migrated, pg_master, pg_super):
    s = migrated
    # A DBA's view in public handed to app_user; another tenant's table keyed to alpha's rows.
    pg_super.execute("CREATE VIEW public.v WITH (security_invoker) AS SELECT name FROM tenant_beta.projects; "
                     "ALTER VIEW public.v OWNER TO app_user", dbname=s.db_name)
    as_migrator(pg_super, s, "ALTER TABLE tenant_alpha.projects ADD PRIMARY KEY (id); "
                "CREATE TABLE tenant_beta.refs (tenant_id uuid NOT NULL, p int REFERENCES tenant_alpha.projects (id)); "
                "SELECT tenancy.enable_isolation('tenant_beta.refs')")
    checks = iso_report(s, pg_master)
    assert_only_failing(checks, "ISO-PINS")
    detail = checks["ISO-PINS"].detail
    assert "view public.v (owner app_user) depends on tenant_beta.projects" in detail
    assert ("constraint refs_p_fkey on table tenant_beta.refs (owner app_migrator) depends on tenant_alpha.projects"
            in detail and "fix: ALTER TABLE tenant_beta.refs DROP CONSTRAINT refs_p_fkey" in detail)
    # Inside its own schema a key or a view pins nothing.
    pg_super.execute("DROP VIEW public.v", dbname=s.db_name)
    as_migrator(pg_super, s, "ALTER TABLE tenant_beta.refs DROP CONSTRAINT refs_p_fkey; "
                "CREATE TABLE tenant_alpha.refs (tenant_id uuid NOT NULL, "
                "p int REFERENCES tenant_alpha.projects (id)); "
                "SELECT tenancy.enable_isolation('tenant_alpha.refs'); "
                "CREATE VIEW tenant_alpha.names WITH (security_invoker) AS SELECT name FROM tenant_alpha.projects")
    assert_only_failing(iso_report(s, pg_master))


def test_iso_pins_fails_on_exactly_what_tenant_drop_refuses_over(migrated, pg_master, pg_super):
    """One judgement of a pin (sql/tenants/pins.sql): statistics kept in another schema on a tenant's
    columns depend on its table only automatically, so nothing fails to drop, but `tenant drop`'s
    CASCADE would drop them silently and it refuses: ISO-PINS names the same object."""
    from tenantdb.database.migrate import catalog

    s = migrated
    pg_super.execute("CREATE SCHEMA kept; CREATE STATISTICS kept.st (dependencies) ON tenant_id, name "
                     "FROM tenant_alpha.projects", dbname=s.db_name)
    try:
        with psycopg.connect(pg_master.dsn(s.db_name)) as conn:
            refused = catalog.pins(conn, "tenant_alpha")
        owner = pg_super.execute("SELECT current_user")[0][0]
        assert refused == [f"statistics object kept.st (owner {owner})"]
        checks = iso_report(s, pg_master)
        assert_only_failing(checks, "ISO-PINS")
        detail = checks["ISO-PINS"].detail
        assert f"{refused[0]} depends on tenant_alpha.projects: it pins the tenant's objects" in detail
    finally:
        pg_super.execute("DROP SCHEMA kept CASCADE", dbname=s.db_name)
    assert_only_failing(iso_report(s, pg_master))


def test_the_posture_is_still_one_round_trip(migrated, pg_master, tmp_path):
    with psycopg.connect(pg_master.dsn(migrated.db_name)) as conn:
        with round_trips(conn, tmp_path / "trace") as trips:
            findings, counts = posture.collect(conn, migrated)
    assert trips == [1]
    assert findings == {} and counts["version_tables"] == 2 and counts["tenant_dependencies"] > 0
