"""Tenant isolation live: tenancy.enable_isolation, the platform-admin path, ISO-PROBE and
attacker-style attempts with app_user's own login over TLS."""

from __future__ import annotations

import hashlib

import secrets

import psycopg
import pytest
from psycopg import sql

from tenantdb import settings as settings_mod, verify
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.tenancy import tenants
from tenantdb.report import Status
from tenantdb.verify import probe
from tests.fixtures_pg import TEST_ENV, connect_as
from tests.test_posture import as_migrator, iso_report, iso_settings, two_tenants  # noqa: F401 - fixtures
from tests.test_signed_context import Signed, signed, signed_overlay  # noqa: F401 - the signed-mode fixtures

STATE = open(__file__.rsplit("/", 2)[0] + "/sql/state.sql").read()
RAISES_FOR_EMPTY = ("CREATE OR REPLACE FUNCTION tenancy.current_tenant_id() RETURNS uuid LANGUAGE sql STABLE "
                    "AS $$ SELECT current_setting('app.current_tenant', true)::uuid $$")
"""The bare cast: an empty context ('' once the setting has existed) raises instead of matching nothing."""
RAISES_OTHER = ("CREATE OR REPLACE FUNCTION tenancy.current_tenant_id() RETURNS uuid LANGUAGE plpgsql STABLE AS $$ "
                "DECLARE v text := current_setting('app.current_tenant', true); BEGIN "
                "IF v IS NULL OR v = '' THEN RETURN NULL; END IF; "
                "IF v !~ '^[0-9a-f-]{36}$' THEN RAISE EXCEPTION 'bad tenant context %', v; END IF; "
                "RETURN v::uuid; END $$")
"""Refuses a malformed context with an error of its own (P0001, echoing the value): only 22P02 is accepted."""


def login(pg_cluster, pg_super, s, role: str) -> psycopg.Connection:
    """A TLS login as ``role`` with a password set for the test (not autocommit)."""
    password = secrets.token_urlsafe(24)
    pg_super.execute(f"ALTER ROLE {role} LOGIN PASSWORD '{password}'")
    conn = connect_as(pg_cluster, role, password, s.db_name)
    conn.autocommit = False
    return conn


def tenant_ids(pg_super, s) -> dict[str, str]:
    return dict(pg_super.execute("SELECT slug, tenant_id::text FROM tenancy.tenants", dbname=s.db_name))


def set_tenant(conn: psycopg.Connection, tenant: str) -> None:
    conn.execute("SELECT tenancy.set_tenant(%s)", (tenant,))  # as the application does: a bound parameter


# ----- enable_isolation ------------------------------------------------------------

def policies(pg_super, s, table: str) -> list[tuple]:
    return pg_super.execute(
        "SELECT polname, polcmd, polpermissive, array(SELECT coalesce(rolname, 'public') FROM unnest(polroles) r "
        "LEFT JOIN pg_roles ON pg_roles.oid = r), pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid) "
        "FROM pg_policy WHERE polrelid = %s::regclass ORDER BY polname", (table,), dbname=s.db_name)


def test_enable_isolation_sets_up_rls_policies_and_index_idempotently(two_tenants, pg_super):
    s = two_tenants
    # Bound to the schema's tenant by a digest of "<schema>:<id>", never the id itself: in another
    # tenant's context the table shows and accepts nothing.
    alpha = tenant_ids(pg_super, s)["alpha"]
    binding = hashlib.sha256(f"tenant_alpha:{alpha}".encode()).hexdigest()
    tenant_expr = ("(tenant_id = ( SELECT tenancy.bound_tenant(tenancy.current_tenant_id(), 'tenant_alpha'::name, "
                   f"'\\x{binding}'::bytea) AS bound_tenant))")
    assert alpha not in tenant_expr
    first = policies(pg_super, s, "tenant_alpha.projects")
    assert first == [("platform_admin_access", "*", True, ["platform_admin"], "true", "true"),
                     ("tenant_isolation", "*", True, ["public"], tenant_expr, tenant_expr)]
    as_migrator(pg_super, s, "SELECT tenancy.enable_isolation('tenant_alpha.projects')")
    assert policies(pg_super, s, "tenant_alpha.projects") == first
    rows = pg_super.execute("SELECT relrowsecurity, relforcerowsecurity, (SELECT count(*) FROM pg_index "
                            "WHERE indrelid = c.oid) FROM pg_class c WHERE oid = 'tenant_alpha.projects'::regclass",
                            dbname=s.db_name)
    assert rows == [(True, True, 1)]  # one tenant_id index, not one per call


OLD_BINDING = """CREATE FUNCTION tenancy.bind_schema(tenant uuid, schema_name name) RETURNS uuid
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $$ BEGIN RETURN (SELECT t.tenant_id FROM tenancy.tenants t
                     WHERE t.schema_name = bind_schema.schema_name AND t.tenant_id = tenant); END $$;
GRANT EXECUTE ON FUNCTION tenancy.bind_schema(uuid, name) TO PUBLIC"""
"""The schema binding of earlier releases: a registry lookup per statement."""


def test_a_policy_of_the_earlier_binding_fails_until_isolated_again_then_its_function_goes(
        two_tenants, pg_master, pg_super):
    s, db = two_tenants, two_tenants.db_name
    pg_super.execute(f"SET ROLE {s.master_username}; {OLD_BINDING}", dbname=db)
    old = "(tenant_id = (SELECT tenancy.bind_schema(tenancy.current_tenant_id(), 'tenant_alpha')))"
    as_migrator(pg_super, s, f"ALTER POLICY tenant_isolation ON tenant_alpha.projects USING {old} WITH CHECK {old}")
    exact = iso_report(s, pg_master)["ISO-POLICY-EXACT"]
    assert exact.status is Status.FAIL and "tenant_alpha.projects" in exact.detail
    assert "enable_isolation" in exact.detail  # the fix is named
    old_exists = "SELECT to_regprocedure('tenancy.bind_schema(uuid, name)') IS NOT NULL"
    bootstrap.run(s, master_dsn=pg_master.dsn())  # a policy still calls it: kept, and the bootstrap succeeds
    assert pg_super.execute(old_exists, dbname=db) == [(True,)]
    as_migrator(pg_super, s, "SELECT tenancy.enable_isolation('tenant_alpha.projects')")
    assert iso_report(s, pg_master)["ISO-POLICY-EXACT"].status is Status.PASS
    bootstrap.run(s, master_dsn=pg_master.dsn())  # no policy calls it any more: dropped
    assert pg_super.execute(old_exists, dbname=db) == [(False,)]


def test_enable_isolation_refuses_a_tenant_schema_with_no_registered_tenant(two_tenants, pg_super):
    s = two_tenants
    pg_super.execute(f"CREATE SCHEMA tenant_ghost AUTHORIZATION {s.migrator_role}", dbname=s.db_name)
    with pytest.raises(psycopg.Error, match="tenant_ghost has no registered tenant") as err:
        as_migrator(pg_super, s, "CREATE TABLE tenant_ghost.t (tenant_id uuid NOT NULL); "
                    "SELECT tenancy.enable_isolation('tenant_ghost.t')")
    assert err.value.sqlstate == "P0002"  # no_data_found; nothing half-done: the statement rolled back
    assert pg_super.execute("SELECT to_regclass('tenant_ghost.t') IS NULL", dbname=s.db_name) == [(True,)]


def test_enable_isolation_keeps_an_existing_index_that_leads_with_tenant_id(two_tenants, pg_super):
    s = two_tenants
    as_migrator(pg_super, s, "CREATE TABLE tenant_alpha.t (tenant_id uuid NOT NULL, id int, "
                "PRIMARY KEY (tenant_id, id)); SELECT tenancy.enable_isolation('tenant_alpha.t')")
    assert pg_super.execute("SELECT count(*) FROM pg_index WHERE indrelid = 'tenant_alpha.t'::regclass",
                            dbname=s.db_name) == [(1,)]


def test_enable_isolation_covers_every_partition(two_tenants, pg_super):
    s = two_tenants
    as_migrator(pg_super, s, "CREATE TABLE tenant_alpha.ev (tenant_id uuid NOT NULL, at date) PARTITION BY RANGE (at); "
                "CREATE TABLE tenant_alpha.ev_a PARTITION OF tenant_alpha.ev FOR VALUES FROM ('2025-01-01') TO "
                "('2026-01-01') PARTITION BY HASH (tenant_id); "
                "CREATE TABLE tenant_alpha.ev_a0 PARTITION OF tenant_alpha.ev_a "
                "FOR VALUES WITH (MODULUS 1, REMAINDER 0); "
                "SELECT tenancy.enable_isolation('tenant_alpha.ev')")
    rows = pg_super.execute(
        "SELECT relname, relrowsecurity, relforcerowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = c.oid) "
        "FROM pg_class c WHERE relname LIKE 'ev%%' AND relkind IN ('r', 'p') ORDER BY relname", dbname=s.db_name)
    assert rows == [("ev", True, True, 2), ("ev_a", True, True, 2), ("ev_a0", True, True, 2)]


@pytest.mark.parametrize("ddl, message", [
    ("CREATE TABLE tenant_alpha.x (tenant_id text)", "tenant_id is text, not uuid"),
    ("CREATE VIEW tenant_alpha.x AS SELECT 1 AS tenant_id", "is not a table"),
])
def test_enable_isolation_refuses_what_it_cannot_isolate(two_tenants, pg_super, ddl, message):
    with pytest.raises(psycopg.Error, match=message):
        as_migrator(pg_super, two_tenants, f"{ddl}; SELECT tenancy.enable_isolation('tenant_alpha.x')")


def test_enable_isolation_refuses_a_table_without_tenant_id_outside_tenant_schemas(two_tenants, pg_super):
    """In a tenant schema such a table is bound to the schema's tenant; elsewhere nothing can bind it."""
    s = two_tenants
    pg_super.execute("DROP SCHEMA IF EXISTS shared CASCADE; CREATE SCHEMA shared; "
                     "CREATE TABLE shared.x (id int); ALTER TABLE shared.x OWNER TO app_migrator; "
                     "GRANT USAGE ON SCHEMA shared TO app_migrator", dbname=s.db_name)
    try:
        with pytest.raises(psycopg.Error, match="has no tenant_id column"):
            as_migrator(pg_super, two_tenants, "SELECT tenancy.enable_isolation('shared.x')")
    finally:
        pg_super.execute("DROP SCHEMA shared CASCADE", dbname=s.db_name)


def test_enable_isolation_refuses_a_table_app_user_owns(two_tenants, pg_super):
    s = two_tenants
    with pytest.raises(psycopg.Error, match="owned by app_user") as err:
        pg_super.execute("CREATE TABLE tenant_alpha.x (tenant_id uuid); ALTER TABLE tenant_alpha.x OWNER TO app_user; "
                         "SELECT tenancy.enable_isolation('tenant_alpha.x')", dbname=s.db_name)
    assert err.value.diag.message_hint == "ALTER TABLE tenant_alpha.x OWNER TO app_migrator"


def test_the_policy_runs_the_tenant_function_once_per_statement_and_uses_the_index(two_tenants, pg_cluster):
    s = two_tenants
    with pg_cluster.superuser_connect(s.db_name) as conn:
        conn.execute("SET ROLE app_user; SET enable_seqscan = off")
        conn.execute("SELECT set_config('app.current_tenant', gen_random_uuid()::text, false)")
        plan = conn.execute("EXPLAIN (COSTS OFF) SELECT * FROM tenant_alpha.projects").fetchall()
    text = "\n".join(r[0] for r in plan)
    assert "InitPlan 1 (returns $0)" in text and "projects_tenant_id_idx" in text and "$0" in text


# ----- app_user, as an attacker with its own login -------------------------------------

@pytest.mark.parametrize("statement", [
    "ALTER TABLE tenant_alpha.projects DISABLE ROW LEVEL SECURITY",
    "ALTER TABLE tenant_alpha.projects NO FORCE ROW LEVEL SECURITY",
    "DROP POLICY tenant_isolation ON tenant_alpha.projects",
    "ALTER POLICY tenant_isolation ON tenant_alpha.projects USING (true)",
    "CREATE POLICY mine ON tenant_alpha.projects USING (true)",
    "ALTER TABLE tenant_alpha.projects ADD COLUMN x int",
    "ALTER TABLE tenant_alpha.projects OWNER TO app_user",
    "DROP TABLE tenant_alpha.projects",
    "TRUNCATE tenant_alpha.projects",
    "CREATE TABLE tenant_alpha.mine (tenant_id uuid)",
    "SELECT tenancy.enable_isolation('tenant_alpha.projects')",
    "SELECT * FROM tenancy.tenants",
    "SET ROLE app_migrator",
    "SET ROLE platform_admin",
    "SET ROLE qualisys_admin",
])
def test_app_user_gets_a_permission_error(two_tenants, pg_cluster, pg_super, statement):
    conn = login(pg_cluster, pg_super, two_tenants, "app_user")
    try:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    finally:
        conn.close()


def test_app_user_sees_and_writes_only_its_tenant(two_tenants, pg_cluster, pg_super):
    s = two_tenants
    ids = tenant_ids(pg_super, s)
    conn = login(pg_cluster, pg_super, s, "app_user")
    try:
        assert conn.execute("SELECT count(*) FROM tenant_alpha.projects").fetchone() == (0,)  # no context
        set_tenant(conn, ids["alpha"])
        assert conn.execute("SELECT count(*) FROM tenant_alpha.projects").fetchone() == (1,)
        assert conn.execute("SELECT count(*) FROM tenant_beta.projects").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO tenant_beta.projects (tenant_id, name) VALUES (%s, 'x')", (ids["beta"],))
        conn.rollback()
        # Pooled connection: the SET LOCAL context ends with the transaction.
        set_tenant(conn, ids["alpha"])
        conn.commit()
        assert conn.execute("SELECT count(*) FROM tenant_alpha.projects").fetchone() == (0,)
    finally:
        conn.close()


def test_a_schema_app_user_creates_with_a_tenant_id_table_fails_verify(two_tenants, pg_cluster, pg_super, pg_master):
    s = two_tenants  # app_create_on_database is on by default (AC8): app_user may create schemas
    conn = login(pg_cluster, pg_super, s, "app_user")
    try:
        conn.execute("CREATE SCHEMA side; CREATE TABLE side.shadow (tenant_id uuid, data text)")
        conn.commit()
    finally:
        conn.close()
    checks = iso_report(s, pg_master)
    assert "side.shadow: RLS off" in checks["ISO-RLS"].detail
    assert "side.shadow: owned by app_user" in checks["ISO-OWNER"].detail


# ----- the platform-admin path ---------------------------------------------------------

def test_platform_admin_members_reach_every_tenant_through_policies(two_tenants, pg_cluster, pg_super, pg_master,
                                                                    pg_overlay):
    s0 = two_tenants
    pg_super.execute("CREATE ROLE ops_alice")
    try:
        s = settings_mod.load(TEST_ENV, pg_overlay, aws_internal_roles=s0.aws_internal_roles,
                              platform_admin_members=("ops_alice",))
        step = {x.name: x for x in bootstrap.run(s, master_dsn=pg_master.dsn()).steps}["tenancy-roles"]
        assert step.changed
        conn = login(pg_cluster, pg_super, s, "ops_alice")
        try:
            n = conn.execute("SELECT (SELECT count(*) FROM tenant_alpha.projects) + "
                             "(SELECT count(*) FROM tenant_beta.projects), (SELECT count(*) FROM tenancy.tenants)")
            assert n.fetchone() == (2, 2)  # every tenant's rows, no context needed; the registry too
            conn.rollback()
        finally:
            conn.close()
        assert iso_report(s, pg_master)["ISO-PERMISSIVE"].status is Status.PASS

        # Taken out of the settings: the bootstrap revokes it, and the rows are out of reach.
        assert bootstrap.run(s0, master_dsn=pg_master.dsn()).steps
        conn = login(pg_cluster, pg_super, s, "ops_alice")
        try:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("SELECT count(*) FROM tenant_alpha.projects")
        finally:
            conn.close()
    finally:
        pg_super.execute("DROP ROLE ops_alice")


# ----- ISO-PROBE ---------------------------------------------------------------------

def test_the_probe_passes_and_leaves_nothing_behind(two_tenants, pg_master, pg_super):
    s = two_tenants
    before = pg_super.execute(STATE, dbname=s.db_name)
    rep = verify.run(s, master_dsn=pg_master.dsn())
    checks = {c.id: c for c in rep.checks}
    assert checks["ISO-PROBE"].status is Status.PASS, checks["ISO-PROBE"].detail
    detail = checks["ISO-PROBE"].detail
    for held in ("unset context: reads 0 rows, insert refused", "empty context: reads 0 rows",
                 "malformed \"' OR '1'='1\" context: reads and writes refused (not a tenant id, 22P02)",
                 "malformed ' ' context: reads and writes refused", "A reads 2 rows, 0 of another tenant",
                 "A inserting a row for B refused", "A moving its rows to B refused",
                 "app_user disabling RLS refused", "app_user truncating (ignores RLS) refused",
                 "real tenant tables: 2 table(s) x 3 tenant context(s) probed, none sees another tenant's rows; "
                 "6 forged context(s) see no row",
                 "SET LOCAL context gone in the next transaction", "nothing left behind"):
        assert held in detail, held
    assert checks["ISO-PROBE-ROLE"].status is Status.SKIP and "--master-dsn" in checks["ISO-PROBE-ROLE"].detail
    assert pg_super.execute(STATE, dbname=s.db_name) == before


def test_set_role_probe_on_app_users_own_login(two_tenants, pg_cluster, pg_super, pg_master):
    s = two_tenants
    conn = login(pg_cluster, pg_super, s, "app_user")
    try:
        check = probe.probe_set_role(conn, s, pg_master.user)
        assert check.status is Status.PASS, check.detail
        assert "SET ROLE app_migrator refused" in check.detail and "SET ROLE platform_admin refused" in check.detail
        assert f"SET ROLE {pg_master.user} refused" in check.detail
        pg_super.execute("GRANT platform_admin TO app_user")
        check = probe.probe_set_role(conn, s, pg_master.user)
        assert check.status is Status.FAIL and "SET ROLE platform_admin succeeded" in check.detail
    finally:
        conn.close()
        pg_super.execute("REVOKE platform_admin FROM app_user")


def test_a_weakened_isolation_helper_makes_the_probe_fail(two_tenants, pg_master, pg_super):
    s = two_tenants
    # Someone with the master's power replaces the helper with one that forgets FORCE and opens reads.
    pg_super.execute("""CREATE OR REPLACE FUNCTION tenancy.enable_isolation(tbl regclass) RETURNS void
        LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
        BEGIN
          EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
          EXECUTE format('CREATE POLICY t ON %s USING (tenant_id = (SELECT tenancy.current_tenant_id()) OR true)', tbl);
        END $$""", dbname=s.db_name)
    check = {c.id: c for c in verify.run(s, master_dsn=pg_master.dsn()).checks}["ISO-PROBE"]
    assert check.status is Status.FAIL
    for leak in ("unset context: reads 3 rows", "unset context: insert succeeded",
                 "A reads 3 rows, 1 of another tenant", "A inserting a row for B succeeded",
                 "A's delete of B's rows touched 1 rows"):
        assert leak in check.detail, leak


@pytest.mark.parametrize(("body", "fragments"), [
    (RAISES_FOR_EMPTY, ("empty context: reading raised invalid input syntax for type uuid",
                        "empty context: insert failed for another reason: invalid input syntax for type uuid",
                        "empty context on tenant_alpha.projects raised invalid input syntax for type uuid",
                        "reset context on tenant_beta.projects raised invalid input syntax for type uuid")),
    (RAISES_OTHER, ("malformed 'not-a-uuid' context: reading raised bad tenant context not-a-uuid",
                    "malformed 'not-a-uuid' context: update raised bad tenant context")),
], ids=["raises-for-empty", "raises-another-error-for-malformed"])
def test_a_current_tenant_function_that_raises_wrongly_makes_the_probe_fail(two_tenants, pg_master, pg_super,
                                                                            body, fragments):
    """A malformed context may be refused with 22P02 (the design); an empty one raising, or a malformed one
    refused with another error, is a problem, each attempt on its own line."""
    s = two_tenants
    pg_super.execute(body, dbname=s.db_name)
    check = {c.id: c for c in verify.run(s, master_dsn=pg_master.dsn()).checks}["ISO-PROBE"]
    assert check.status is Status.FAIL
    for fragment in fragments:
        assert fragment in check.detail, (fragment, check.detail)
    assert "unset context" not in check.detail  # only the problems are listed: NULL still matches nothing


MAPS_FORGED = ("CREATE OR REPLACE FUNCTION tenancy.current_tenant_id() RETURNS uuid LANGUAGE sql STABLE AS $$ "
               "SELECT CASE {when} ELSE v::uuid END FROM current_setting('app.current_tenant', true) v $$")
"""A sabotaged current_tenant_id() that maps some forged contexts (``when``) to a real tenant."""
MAPS_WHEN = {"malformed": "WHEN v IS NULL OR v = '' THEN NULL WHEN v !~ '^[0-9a-f-]+$' THEN {tenant}::uuid",
             "empty": "WHEN v IS NULL THEN NULL WHEN v = '' THEN {tenant}::uuid"}


@pytest.mark.parametrize(("forged", "labels"), [
    ("malformed", ("malformed 'not-a-uuid'", "malformed \"' OR '1'='1\"", "malformed ' '")),
    ("empty", ("empty", "reset")),
], ids=["maps-malformed-to-a-tenant", "maps-empty-to-a-tenant"])
def test_a_current_tenant_function_that_maps_a_forged_context_to_a_real_tenant_fails_the_probe(
        two_tenants, pg_master, pg_super, forged, labels):
    """The scratch table's rows belong to two random tenants, so only the real tables show this: a forged
    context written straight to the setting must see no row of any real tenant table."""
    s = two_tenants
    alpha = tenant_ids(pg_super, s)["alpha"]
    when = sql.SQL(MAPS_WHEN[forged]).format(tenant=sql.Literal(alpha))
    pg_super.execute(sql.SQL(MAPS_FORGED).format(when=when), dbname=s.db_name)
    check = {c.id: c for c in verify.run(s, master_dsn=pg_master.dsn()).checks}["ISO-PROBE"]
    assert check.status is Status.FAIL
    for label in labels:
        assert f"{label} context sees 1 row(s) in tenant_alpha.projects" in check.detail, (label, check.detail)
    assert "in tenant_beta.projects" not in check.detail  # the binding to the schema's tenant still holds there


def test_a_signed_verifier_that_maps_a_malformed_context_to_a_real_tenant_fails_the_probe(signed: Signed, pg_master,
                                                                                           pg_super):
    """Signed mode: the genuine verifier stays for tokens, but a malformed value now means acme."""
    s, db = signed.s, signed.s.db_name
    [(genuine,)] = pg_super.execute("SELECT pg_get_functiondef('tenancy.current_tenant_id()'::regprocedure)", dbname=db)
    pg_super.execute(genuine.replace("tenancy.current_tenant_id()", "tenancy.genuine_tenant_id()", 1), dbname=db)
    when = sql.SQL("WHEN v IS NULL OR v = '' OR v LIKE 'v1.%' OR v ~ '^[0-9a-f-]+$' THEN tenancy.genuine_tenant_id() "
                   "WHEN true THEN {tenant}::uuid").format(tenant=sql.Literal(signed.ids["acme"]))
    pg_super.execute(sql.SQL(MAPS_FORGED).format(when=when), dbname=db)
    check = {c.id: c for c in verify.run(s, master_dsn=pg_master.dsn()).checks}["ISO-PROBE"]
    assert check.status is Status.FAIL
    table = f"{s.tenant_schema_prefix}acme.notes"
    assert f"malformed 'not-a-uuid' context sees 2 row(s) in {table}" in check.detail, check.detail
    assert "reset context sees" not in check.detail and "globex" not in check.detail  # valid tokens still hold


def test_a_leaking_policy_on_a_real_table_is_caught_by_the_probe(two_tenants, pg_master, pg_super):
    s = two_tenants
    as_migrator(pg_super, s, "CREATE POLICY peek ON tenant_beta.projects FOR SELECT USING (true)")
    checks = {c.id: c for c in verify.run(s, master_dsn=pg_master.dsn()).checks}
    assert checks["ISO-PERMISSIVE"].status is Status.FAIL
    assert checks["ISO-PROBE"].status is Status.FAIL
    assert "row(s) of other tenants in tenant_beta.projects" in checks["ISO-PROBE"].detail


def test_a_probe_batch_that_stops_early_fails_naming_what_did_not_run(two_tenants, pg_master, pg_super):
    s = two_tenants
    # The helper breaks: every batch stops where A's context is set; nothing after it may pass by absence.
    pg_super.execute("CREATE OR REPLACE FUNCTION tenancy.set_tenant(context text) RETURNS uuid LANGUAGE plpgsql "
                     "SET search_path = pg_catalog, pg_temp AS $$ BEGIN RAISE EXCEPTION 'set_tenant is out of order'; "
                     "END $$", dbname=s.db_name)
    checks = {c.id: c for c in verify.run(s, master_dsn=pg_master.dsn()).checks}
    probe_check, ac10 = checks["ISO-PROBE"], checks["AC10"]
    assert probe_check.status is Status.FAIL and ac10.status is Status.FAIL
    for missing in ("the probe stopped early: set_tenant is out of order", "A reads: no result",
                    "app_user truncating (ignores RLS): no result", "real tenant tables: no result",
                    "SET LOCAL context: no result"):
        assert missing in probe_check.detail, missing
    assert "unset context" not in probe_check.detail  # what ran before the stop still held, and says so
    for missing in ("the probe stopped early: set_tenant is out of order", "A's own rows: no result",
                    "insert of B's row: no result", "moving A's rows to B: no result"):
        assert missing in ac10.detail, missing
    assert "no context sees 0 rows" in ac10.actual
    # The rollback and "nothing left behind" still ran after the stop.
    assert "nothing left behind" in ac10.actual and "nothing left behind" not in probe_check.detail
    assert pg_super.execute("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tenantdb\\_%'",
                            dbname=s.db_name) == [(0,)]


def test_tenants_made_by_the_cli_pass_verify_with_their_tables(two_tenants, pg_master):
    rows = tenants.list_tenants(two_tenants, master_dsn=pg_master.dsn())
    assert [(r["slug"], r["tables"], r["isolated"]) for r in rows] == [("alpha", 1, 1), ("beta", 1, 1)]
    rep = verify.run(two_tenants, master_dsn=pg_master.dsn())
    assert all(c.status in (Status.PASS, Status.SKIP) for c in rep.checks), \
        [(c.id, c.detail) for c in rep.checks if c.status not in (Status.PASS, Status.SKIP)]
    assert rep.exit_code == 0
