"""A hostile app_user, logged in itself over TLS, against a bootstrapped server with two tenants.

Each test is one class of attack: trojans that wait for a privileged session, persistent hooks
on the application roles, harvested tenant ids, the tenant schema as a wall, and the policies
verify must see through. The attacker's SQL runs on app_user's own login (SET ROLE from a
superuser session would test the superuser's memberships, not app_user's)."""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from tenantdb import cli
from tenantdb.database.plumbing.connection import PINNED_SEARCH_PATH
from tenantdb.local.postgres import SUPERUSER
from tests.fixtures_pg import TEST_ENV
from tests.test_isolation import login, tenant_ids
from tests.test_posture import as_migrator, iso_report, iso_settings, two_tenants  # noqa: F401 - fixtures

STATE = (Path(__file__).resolve().parents[1] / "sql" / "state.sql").read_text()


def fingerprint(pg_super, s) -> str:
    """sql/state.sql (roles, memberships, policies, function definitions, grants...), read with
    search_path pinned so the trojans cannot touch the measurement itself."""
    with pg_super.cluster.superuser_connect(s.db_name) as conn:
        conn.execute(sql.SQL("SET search_path = {}").format(sql.SQL(PINNED_SEARCH_PATH)))
        return conn.execute(STATE).fetchone()[0]


def run_cli(capsys, overlay: Path, *args: str) -> tuple[int, str]:
    code = cli.main(["--settings", str(overlay), *args])
    out, err = capsys.readouterr()
    return code, out + err


# ----- 1. the toolkit's own sessions cannot be hijacked ----------------------------

def trojans(schema: str) -> str:
    """Shadows, in ``schema``, the built-ins the toolkit's SQL calls with arguments that match a
    shadow better than pg_catalog's own (an exact type beats a polymorphic or a coerced one, so
    the shadow wins even behind pg_catalog). Each notes who ran it and tries the escalation."""
    s = sql.Identifier(schema).as_string(None)
    note = f"PERFORM {s}.note"
    return f"""
CREATE SCHEMA {s};
GRANT USAGE ON SCHEMA {s} TO PUBLIC;
CREATE FUNCTION {s}.note(what text) RETURNS void LANGUAGE plpgsql AS $t$
BEGIN
  INSERT INTO atk.log (who, what) VALUES (current_user, what);
  BEGIN EXECUTE 'GRANT app_migrator TO app_user'; EXCEPTION WHEN OTHERS THEN NULL; END;
END $t$;
CREATE FUNCTION {s}.count_step(bigint, oid) RETURNS bigint LANGUAGE plpgsql AS
  $t$ BEGIN {note}('count(oid)'); RETURN $1 + 1; END $t$;
CREATE AGGREGATE {s}.count(oid) (sfunc = {s}.count_step, stype = bigint, initcond = '0');
CREATE FUNCTION {s}.agg_name(name[], name) RETURNS name[] LANGUAGE plpgsql AS
  $t$ BEGIN {note}('array_agg(name)'); RETURN pg_catalog.array_append($1, $2); END $t$;
CREATE AGGREGATE {s}.array_agg(name) (sfunc = {s}.agg_name, stype = name[]);
CREATE FUNCTION {s}.agg_text(text[], text) RETURNS text[] LANGUAGE plpgsql AS
  $t$ BEGIN {note}('array_agg(text)'); RETURN pg_catalog.array_append($1, $2); END $t$;
CREATE AGGREGATE {s}.array_agg(text) (sfunc = {s}.agg_text, stype = text[]);
CREATE FUNCTION {s}.agg_string(text, name, text) RETURNS text LANGUAGE plpgsql AS
  $t$ BEGIN {note}('string_agg(name, text)');
     RETURN CASE WHEN $1 IS NULL THEN $2::text ELSE pg_catalog.textcat(pg_catalog.textcat($1, $3), $2::text) END;
  END $t$;
CREATE AGGREGATE {s}.string_agg(name, text) (sfunc = {s}.agg_string, stype = text);
CREATE FUNCTION {s}.starts_with(name, text) RETURNS boolean LANGUAGE plpgsql AS
  $t$ BEGIN {note}('starts_with(name, text)'); RETURN pg_catalog.starts_with($1::text, $2); END $t$;
CREATE FUNCTION {s}.format(text, text) RETURNS text LANGUAGE plpgsql AS
  $t$ BEGIN {note}('format(text, text)'); RETURN pg_catalog.format($1, $2); END $t$;
CREATE FUNCTION {s}.format(text, text, text) RETURNS text LANGUAGE plpgsql AS
  $t$ BEGIN {note}('format(text, text, text)'); RETURN pg_catalog.format($1, $2, $3); END $t$;
CREATE FUNCTION {s}.quote_ident(name) RETURNS text LANGUAGE plpgsql AS
  $t$ BEGIN {note}('quote_ident(name)'); RETURN pg_catalog.quote_ident($1::text); END $t$;
CREATE FUNCTION {s}.lower(name) RETURNS text LANGUAGE plpgsql AS
  $t$ BEGIN {note}('lower(name)'); RETURN pg_catalog.lower($1::text); END $t$;
CREATE FUNCTION {s}.concat_ws(text, text, text) RETURNS text LANGUAGE plpgsql AS
  $t$ BEGIN {note}('concat_ws(text, text, text)'); RETURN pg_catalog.concat_ws($1, $2, $3); END $t$;
CREATE FUNCTION {s}.cat(text, name) RETURNS text LANGUAGE plpgsql AS
  $t$ BEGIN {note}('||(text, name)'); RETURN pg_catalog.textcat($1, $2::text); END $t$;
CREATE OPERATOR {s}.|| (leftarg = text, rightarg = name, function = {s}.cat);
CREATE FUNCTION {s}.re(name, name) RETURNS boolean LANGUAGE plpgsql AS
  $t$ BEGIN {note}('~(name, name)'); RETURN pg_catalog.textregexeq($1::text, $2::text); END $t$;
CREATE OPERATOR {s}.~ (leftarg = name, rightarg = name, function = {s}.re);
CREATE FUNCTION {s}.nre(name, name) RETURNS boolean LANGUAGE plpgsql AS
  $t$ BEGIN {note}('!~(name, name)'); RETURN pg_catalog.textregexne($1::text, $2::text); END $t$;
CREATE OPERATOR {s}.!~ (leftarg = name, rightarg = name, function = {s}.nre);
"""  # noqa: S608 - the attacker's own SQL; the schema is a quoted identifier


@pytest.fixture
def trojaned(two_tenants, pg_cluster, pg_super, pg_master):
    """app_user, on its own login, plants trojan schemas named after every privileged role."""
    s = two_tenants
    conn = login(pg_cluster, pg_super, s, s.app_role)
    conn.autocommit = True
    conn.execute("CREATE SCHEMA atk; GRANT USAGE ON SCHEMA atk TO PUBLIC; "
                 "CREATE TABLE atk.log (who name, what text); GRANT INSERT, SELECT ON atk.log TO PUBLIC")
    for role in (pg_master.user, s.migrator_role, s.platform_admin_role, s.reporting_role):
        conn.execute(trojans(role))
    conn.close()
    return s


def trojan_log(pg_super, s) -> list[tuple]:
    return pg_super.execute("SELECT who, what FROM atk.log ORDER BY 1, 2", dbname=s.db_name)


def test_the_trojans_would_run_in_an_unpinned_master_session(trojaned, pg_master, pg_super):
    """The control: with PostgreSQL's default search_path ("$user", public) the master's own queries
    run app_user's code; so the test below shows something real."""
    s = trojaned
    with psycopg.connect(pg_master.dsn(s.db_name)) as conn:  # default search_path
        conn.execute("SELECT count(oid), array_agg(rolname) FROM pg_roles WHERE rolname !~ '^pg_'")
        conn.execute("SELECT string_agg(nspname, ',') FROM pg_namespace WHERE starts_with(nspname, 'tenant_')")
        ran = conn.execute("SELECT DISTINCT who::text, what FROM atk.log ORDER BY 2").fetchall()
        conn.rollback()
    assert (pg_master.user, "count(oid)") in ran
    assert {what for _, what in ran} >= {"count(oid)", "array_agg(name)", "!~(name, name)",
                                         "string_agg(name, text)", "starts_with(name, text)"}


def test_the_local_stand_ins_superuser_sessions_run_no_trojan(two_tenants, pg_cluster, pg_super, pg_master):
    """`local up`'s superuser (the stand-in for what RDS keeps to itself) works in db_name, where app_user
    can create a schema named after it. Its sessions pin search_path: the trojans stay idle, while a
    session with PostgreSQL's default path runs them as the superuser (the control)."""
    s = two_tenants
    conn = login(pg_cluster, pg_super, s, s.app_role)
    conn.autocommit = True
    conn.execute("CREATE SCHEMA atk; GRANT USAGE ON SCHEMA atk TO PUBLIC; "
                 "CREATE TABLE atk.log (who name, what text); GRANT INSERT, SELECT ON atk.log TO PUBLIC")
    conn.execute(trojans(SUPERUSER))
    conn.close()
    probe = "SELECT count(oid), array_agg(rolname) FROM pg_roles WHERE rolname !~ '^pg_'"
    with pg_cluster.superuser_connect(s.db_name) as su:
        su.execute(probe)
    pg_cluster.hand_over_extensions(s.db_name, pg_master.user, ["pg_stat_statements"])
    assert trojan_log(pg_super, s) == []
    unpinned = psycopg.conninfo.make_conninfo(host=str(pg_cluster.socket_dir), port=pg_cluster.port,
                                              user=SUPERUSER, dbname=s.db_name)
    with psycopg.connect(unpinned, autocommit=True) as su:  # PostgreSQL's default "$user", public
        su.execute(probe)
    assert (SUPERUSER, "count(oid)") in trojan_log(pg_super, s)


def test_bootstrap_verify_and_tenant_commands_leave_the_catalog_as_it_was(trojaned, pg_master, pg_super,
                                                                           pg_overlay, capsys):
    s = trojaned
    dsn = pg_master.dsn()
    before = fingerprint(pg_super, s)
    code, out = run_cli(capsys, pg_overlay, "bootstrap", "--env", TEST_ENV, "--master-dsn", dsn)
    assert code == 0 and "nothing changed" in out, out
    code, out = run_cli(capsys, pg_overlay, "tenant", "list", "--env", TEST_ENV, "--master-dsn", dsn,
                        "--format", "json")
    assert code == 0 and {t["slug"] for t in json.loads(out[:out.rindex("]") + 1])} == {"alpha", "beta"}, out
    code, out = run_cli(capsys, pg_overlay, "tenant", "create", "initech", "--env", TEST_ENV, "--master-dsn", dsn)
    assert code == 0, out
    code, out = run_cli(capsys, pg_overlay, "tenant", "drop", "initech", "--confirm", "initech", "--env",
                        TEST_ENV, "--master-dsn", dsn)
    assert code == 0, out
    code, out = run_cli(capsys, pg_overlay, "verify", "--env", TEST_ENV, "--master-dsn", dsn, "--format", "json")
    checks = {c["id"]: c for c in json.loads(out[:out.rindex("}") + 1])["checks"]}
    # Verify names the trap (a schema app_user owns, named after the master) ...
    assert checks["ISO-TROJAN"]["status"] == "FAIL"
    assert f"schema {pg_master.user}: owned by app_user and named after role {pg_master.user}" in \
        checks["ISO-TROJAN"]["detail"]
    # ... and nothing else failed: AC10 and the probe ran as app_user among the trojans.
    assert [(i, c["detail"]) for i, c in checks.items() if c["status"] == "FAIL" and i != "ISO-TROJAN"] == []
    assert trojan_log(pg_super, s) == []
    assert fingerprint(pg_super, s) == before
    assert pg_super.execute("SELECT pg_has_role('app_user', 'app_migrator', 'MEMBER')") == [(False,)]


# ----- 2. no persistent hooks ------------------------------------------------------

def test_role_settings_app_user_sets_on_itself_fail_verify_and_the_bootstrap_resets_them(
        two_tenants, pg_cluster, pg_super, pg_master, pg_overlay, capsys):
    s = two_tenants
    conn = login(pg_cluster, pg_super, s, s.app_role)
    conn.autocommit = True
    conn.execute("CREATE SCHEMA atk")
    conn.execute("ALTER ROLE app_user SET search_path = atk, pg_catalog, public")
    conn.execute(sql.SQL("ALTER ROLE app_user IN DATABASE {} SET default_transaction_read_only = on").format(
        sql.Identifier(s.db_name)))
    conn.close()
    check = iso_report(s, pg_master)["ISO-ROLE-SETTINGS"]
    assert check.status.value == "FAIL"
    assert "role app_user: sets search_path for every new session" in check.detail
    assert f"role app_user in database {s.db_name}: sets default_transaction_read_only" in check.detail

    code, out = run_cli(capsys, pg_overlay, "bootstrap", "--env", TEST_ENV, "--master-dsn", pg_master.dsn(),
                        "--format", "json")
    assert code == 0, out
    step = {st["name"]: st for st in json.loads(out)["steps"]}["no-hooks"]
    assert step["changed"] and "app_user: search_path" in step["detail"] and "-> none" in step["detail"], step
    assert pg_super.execute("SELECT count(*) FROM pg_db_role_setting WHERE setrole = 'app_user'::regrole") == [(0,)]
    assert iso_report(s, pg_master)["ISO-ROLE-SETTINGS"].status.value == "PASS"
    fresh = login(pg_cluster, pg_super, s, s.app_role)
    assert fresh.execute("SHOW default_transaction_read_only").fetchone() == ("off",)
    fresh.close()


def test_a_powerful_built_in_role_on_app_user_fails_verify(two_tenants, pg_super, pg_master, pg_overlay, capsys):
    s = two_tenants
    pg_super.execute("GRANT pg_execute_server_program, pg_read_all_stats TO app_user")
    try:
        check = iso_report(s, pg_master)["ISO-BUILTIN-ROLES"]
        assert check.status.value == "FAIL"
        assert "role app_user: has the privileges of pg_execute_server_program" in check.detail
        assert "pg_read_all_stats" in check.detail
        # The RDS-like master holds no ADMIN OPTION on them: the bootstrap says what remains.
        code, out = run_cli(capsys, pg_overlay, "bootstrap", "--env", TEST_ENV, "--master-dsn", pg_master.dsn(),
                            "--format", "json")
        assert code == 0, out
        step = {st["name"]: st for st in json.loads(out[out.index("{"):])["steps"]}["no-hooks"]
        assert "app_user in pg_execute_server_program" in step["detail"], step
    finally:
        pg_super.execute("REVOKE pg_execute_server_program, pg_read_all_stats FROM app_user")


# ----- 3. exact policies -----------------------------------------------------------

@pytest.mark.parametrize("change, difference", [
    ("ALTER POLICY tenant_isolation ON tenant_alpha.projects USING ((tenant_id = (SELECT "
     "tenancy.current_tenant_id())) OR current_setting('app.support', true) = 'on')", "USING"),
    ("ALTER POLICY tenant_isolation ON tenant_alpha.projects WITH CHECK (tenant_id IS NOT NULL)",
     "WITH CHECK (tenant_id IS NOT NULL), not"),
    ("ALTER POLICY platform_admin_access ON tenant_alpha.projects TO platform_admin, app_user",
     "roles platform_admin, app_user, not platform_admin"),
])
def test_a_weakened_policy_fails_naming_the_difference(two_tenants, pg_super, pg_master, change, difference):
    s = two_tenants
    as_migrator(pg_super, s, change)
    check = iso_report(s, pg_master)["ISO-POLICY-EXACT"]
    assert check.status.value == "FAIL"
    assert "on tenant_alpha.projects" in check.detail and difference in check.detail, check.detail
    assert "enable_isolation('tenant_alpha.projects')" in check.detail
    as_migrator(pg_super, s, "SELECT tenancy.enable_isolation('tenant_alpha.projects')")
    assert iso_report(s, pg_master)["ISO-POLICY-EXACT"].status.value == "PASS"


# ----- 4. tenant ids stay in their session ------------------------------------------

def test_set_tenant_binds_the_id_and_nothing_shows_it_to_another_session(two_tenants, pg_cluster, pg_super):
    s = two_tenants
    ids = tenant_ids(pg_super, s)
    victim = login(pg_cluster, pg_super, s, s.app_role)
    attacker = login(pg_cluster, pg_super, s, s.app_role)
    attacker.autocommit = True
    assert str(victim.execute("SELECT tenancy.set_tenant(%s)", (ids["alpha"],)).fetchone()[0]) == ids["alpha"]
    assert str(victim.execute("SELECT tenancy.current_tenant_id()").fetchone()[0]) == ids["alpha"]
    assert [r[0] for r in victim.execute("SELECT name FROM tenant_alpha.projects")] == ["p1"]
    # Still inside the victim's transaction: what the other session can see of it.
    seen = attacker.execute("SELECT query FROM pg_stat_activity WHERE usename = 'app_user' "
                            "AND pid <> pg_backend_pid()").fetchall()
    assert seen and all(ids["alpha"] not in q for (q,) in seen), seen
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        attacker.execute("SELECT query FROM pg_stat_statements")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        attacker.execute("SELECT query FROM pg_stat_statements(true)")
    victim.commit()
    # Transaction-local: gone after COMMIT, so a pooled connection carries nothing over.
    assert victim.execute("SELECT tenancy.current_tenant_id()").fetchone() == (None,)
    victim.rollback()
    for bad in ("", "not-a-uuid", ids["alpha"] + "'; --", None):
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            victim.execute("SELECT tenancy.set_tenant(%s)", (bad,))
        victim.rollback()
    text = pg_super.execute("SELECT string_agg(query, ' ') FROM public.pg_stat_statements",
                            dbname=s.db_name)[0][0] or ""
    assert ids["alpha"] not in text and "set_tenant($1)" in text
    victim.close()
    attacker.close()


def test_a_context_written_directly_is_a_tenant_id_or_the_statement_fails(two_tenants, pg_cluster, pg_super):
    """The setting written directly, bypassing set_tenant, on app_user's own login over TLS: a malformed
    value makes every read and write of a tenant table fail with 22P02 (not a tenant id: fails closed,
    and loudly); an empty one reads nothing without an error; a tenant's id reads that tenant's rows."""
    s = two_tenants
    ids = tenant_ids(pg_super, s)
    conn = login(pg_cluster, pg_super, s, s.app_role)
    forge = "SELECT set_config(%s, %s, true)"
    try:
        for bad in ("not-a-uuid", "' OR '1'='1", ids["alpha"] + "'; --", " ", ids["alpha"][:-1] + "g"):
            for attempt, params in (("SELECT name FROM tenant_alpha.projects", None),
                                    ("UPDATE tenant_alpha.projects SET name = 'x'", None),
                                    ("DELETE FROM tenant_alpha.projects", None),
                                    ("INSERT INTO tenant_alpha.projects (tenant_id, name) VALUES (%s, 'x')",
                                     (ids["alpha"],))):
                conn.execute(forge, (s.tenant_setting, bad))
                with pytest.raises(psycopg.errors.InvalidTextRepresentation, match="for type uuid"):
                    conn.execute(attempt, params)
                conn.rollback()
        conn.execute(forge, (s.tenant_setting, ""))
        assert conn.execute("SELECT name FROM tenant_alpha.projects").fetchall() == []
        assert conn.execute("DELETE FROM tenant_alpha.projects").rowcount == 0
        conn.rollback()
        conn.execute(forge, (s.tenant_setting, ids["alpha"]))
        assert conn.execute("SELECT name FROM tenant_alpha.projects").fetchall() == [("p1",)]
        assert conn.execute("SELECT name FROM tenant_beta.projects").fetchall() == []
        conn.rollback()
    finally:
        conn.close()
    assert pg_super.execute("SELECT count(*) FROM tenant_alpha.projects", dbname=s.db_name) == [(1,)]


def test_a_tenant_id_in_catalog_text_fails_verify_naming_the_object(two_tenants, pg_cluster, pg_super, pg_master):
    s = two_tenants
    ids = tenant_ids(pg_super, s)
    conn = login(pg_cluster, pg_super, s, s.app_role)
    conn.autocommit = True
    conn.execute("CREATE SCHEMA atk")
    conn.execute(sql.SQL("COMMENT ON SCHEMA atk IS {}").format(sql.Literal(f"alpha is {ids['alpha']}")))
    conn.close()
    as_migrator(pg_super, s, f"ALTER TABLE tenant_beta.projects ALTER COLUMN tenant_id SET DEFAULT "
                             f"'{ids['beta'].upper()}'")
    check = iso_report(s, pg_master)["ISO-ID-LEAK"]
    assert check.status.value == "FAIL"
    assert "comment on schema atk: holds the id of tenant alpha" in check.detail
    assert "default of tenant_beta.projects.tenant_id: holds the id of tenant beta" in check.detail


# ----- 5. the schema is a wall -------------------------------------------------------

def test_in_one_tenants_context_another_tenants_schema_shows_and_accepts_nothing(two_tenants, pg_cluster, pg_super):
    s = two_tenants
    ids = tenant_ids(pg_super, s)
    conn = login(pg_cluster, pg_super, s, s.app_role)
    conn.execute("SELECT tenancy.set_tenant(%s)", (ids["alpha"],))
    assert conn.execute("SELECT count(*) FROM tenant_beta.projects").fetchone() == (0,)
    # alpha-tagged rows in beta's table: refused, whatever tenant_id they carry.
    for tagged in (ids["alpha"], ids["beta"]):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            with conn.transaction():
                conn.execute("INSERT INTO tenant_beta.projects (tenant_id, name) VALUES (%s, 'squat')", (tagged,))
    assert conn.execute("UPDATE tenant_beta.projects SET name = 'x'").rowcount == 0
    # Its own schema still works.
    conn.execute("INSERT INTO tenant_alpha.projects (tenant_id, name) VALUES (%s, 'mine')", (ids["alpha"],))
    assert conn.execute("SELECT count(*) FROM tenant_alpha.projects").fetchone() == (2,)
    conn.rollback()
    conn.close()


def test_app_user_cannot_draw_from_read_or_set_a_tenant_sequence(two_tenants, pg_cluster, pg_super, pg_master):
    """Identity columns need no privilege on their sequence; nextval on another tenant's would let one
    tenant spend another's ids to their end."""
    s = two_tenants
    conn = login(pg_cluster, pg_super, s, s.app_role)
    for statement in ("SELECT nextval('tenant_beta.projects_id_seq')",
                      "SELECT last_value FROM tenant_beta.projects_id_seq",
                      "SELECT setval('tenant_beta.projects_id_seq', 1000)"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
        conn.rollback()
    conn.close()
    assert iso_report(s, pg_master)["ISO-SEQUENCE"].status.value == "PASS"
    as_migrator(pg_super, s, "GRANT SELECT ON SEQUENCE tenant_beta.projects_id_seq TO app_user")
    check = iso_report(s, pg_master)["ISO-SEQUENCE"]
    assert check.status.value == "FAIL" and "tenant_beta.projects_id_seq: app_user may SELECT it" in check.detail
