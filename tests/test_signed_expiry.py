"""The signed tenant context in time, byte by byte, and against the registry (tenant_context = "signed").

As app_user's own login over TLS, the way a hostile application would:

- a token stops naming its tenant at its expiry, and at its key's retirement, for every query,
  also inside ONE statement that began before (a DO block, a PL/pgSQL function, a SQL function);
- every byte of a token is covered: no single change to one makes the verifier name a tenant
  or raise (the separator before the MAC was neither MACed nor checked);
- a validly signed token of a tenant that is not registered (dropped) is refused by set_tenant,
  and the registry is never reached before the MAC holds;
- the migrator's context (tenancy.migration_context): a token minted in the database for a
  registered tenant, which only the migrator may ask for.
"""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
from psycopg import sql

from tenantdb import settings as settings_mod
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.tenancy import context_key
from tenantdb.database.tenancy import tenants
from tenantdb.database.tenancy import context_token as ct
from tests.fixtures_pg import TEST_ENV, Super, connect_as
from tests.test_signed_context import TABLE, Signed, _separator, signed, signed_overlay  # noqa: F401 - fixtures

EXP = "tenantdb_test.exp"
"""A transaction-local setting carrying the token's expiry into the statement (not a secret)."""

# One body for the DO block and the PL/pgSQL function: count, wait past the expiry (the clock, not the
# statement's start), count again, then try to write. Results land in pg_temp.outlived.
_BODY = """
DECLARE n bigint;
BEGIN
  INSERT INTO pg_temp.outlived SELECT 'before', count(*)::text FROM {table};
  WHILE pg_catalog.clock_timestamp() <= pg_catalog.to_timestamp(current_setting('{exp}')::bigint)
                                        + interval '300 milliseconds' LOOP
    PERFORM pg_catalog.pg_sleep(0.1);
  END LOOP;
  INSERT INTO pg_temp.outlived SELECT 'after', count(*)::text FROM {table};
  UPDATE {table} SET note = 'after expiry';
  GET DIAGNOSTICS n = ROW_COUNT;
  INSERT INTO pg_temp.outlived VALUES ('updated', n::text);
  BEGIN
    INSERT INTO {table} (tenant_id, note) VALUES ({tenant}, 'after expiry');
    INSERT INTO pg_temp.outlived VALUES ('insert', 'succeeded');
  EXCEPTION WHEN insufficient_privilege THEN
    INSERT INTO pg_temp.outlived VALUES ('insert', 'refused: ' || SQLERRM);
  END;
END
"""

# A SQL function: each statement is its own query, so each runs the policy's InitPlan anew.
_SQL_FUNCTION = """
CREATE FUNCTION pg_temp.outlive() RETURNS void LANGUAGE sql AS $f$
  INSERT INTO pg_temp.outlived SELECT 'before', count(*)::text FROM {table};
  SELECT pg_catalog.pg_sleep(greatest(0, extract(epoch FROM pg_catalog.to_timestamp(current_setting('{exp}')::bigint)
                                                        - pg_catalog.clock_timestamp())) + 0.3);
  INSERT INTO pg_temp.outlived SELECT 'after', count(*)::text FROM {table};
  WITH u AS (UPDATE {table} SET note = 'after expiry' RETURNING 1)
  INSERT INTO pg_temp.outlived SELECT 'updated', count(*)::text FROM u;
$f$
"""


def _table(s: settings_mod.Settings, slug: str) -> sql.Identifier:
    return sql.Identifier(f"{s.tenant_schema_prefix}{slug}", TABLE)


def _statement(form: str, table: sql.Identifier, tenant: str) -> tuple[list[sql.Composable], sql.Composable]:
    """(set-up statements, the ONE statement that outlives the token) for ``form``."""
    values = {"table": table, "exp": sql.SQL(EXP), "tenant": sql.Literal(tenant)}
    body = sql.SQL(_BODY).format(**values)
    if form == "DO block":
        return [], sql.SQL("DO $do$ {} $do$").format(body)
    if form == "PL/pgSQL function":
        create = sql.SQL("CREATE FUNCTION pg_temp.outlive() RETURNS void LANGUAGE plpgsql AS $f$ {} $f$").format(body)
        return [create], sql.SQL("SELECT pg_temp.outlive()")
    return [sql.SQL(_SQL_FUNCTION).format(**values)], sql.SQL("SELECT pg_temp.outlive()")


@pytest.mark.parametrize("form", ["DO block", "PL/pgSQL function", "SQL function"])
def test_a_token_stops_naming_its_tenant_at_its_expiry_inside_one_statement(signed: Signed, form: str):
    s = signed.s
    token = signed.token("acme", ttl_s=3)
    exp = ct.parse(token).expires_at
    setup, statement = _statement(form, _table(s, "acme"), signed.ids["acme"])
    with signed.app() as conn:
        conn.autocommit = False
        conn.execute("CREATE TEMP TABLE outlived (what text, result text)")
        for stmt in setup:
            conn.execute(stmt)
        conn.execute("SELECT tenancy.set_tenant(%s), set_config(%s, %s, true)", (token, EXP, str(exp)))
        started = time.time()
        conn.execute(statement)
        assert started < exp < time.time(), "the statement began before the expiry and ended after it"
        got = dict(conn.execute("SELECT what, result FROM pg_temp.outlived").fetchall())
        conn.rollback()
    assert got["before"] == "2", got  # the token held when the statement began
    assert got["after"] == "0", f"{form}: read acme's rows after the token expired: {got}"
    assert got["updated"] == "0", f"{form}: updated acme's rows after the token expired: {got}"
    if "insert" in got:
        assert got["insert"].startswith("refused: ") and "row-level security" in got["insert"], got


def test_a_key_retired_while_a_statement_runs_stops_verifying_for_its_next_query(signed: Signed, pg_super: Super):
    s = signed.s
    token = signed.token("acme", ttl_s=300)
    lock = 74646578  # the statement takes it once it has read under the key: then the key is retired
    table = _table(s, "acme")
    body = sql.SQL("""
      CREATE FUNCTION pg_temp.until_retired() RETURNS TABLE (n_before bigint, n_after bigint, wrote text)
      LANGUAGE plpgsql AS $f$
      DECLARE waited int := 0;
      BEGIN
        SELECT count(*) INTO n_before FROM {table};
        PERFORM pg_catalog.pg_advisory_lock({lock});
        LOOP
          PERFORM pg_catalog.pg_sleep(0.1);
          SELECT count(*) INTO n_after FROM {table};
          waited := waited + 1;
          EXIT WHEN n_after = 0 OR waited >= 80;
        END LOOP;
        BEGIN
          INSERT INTO {table} (tenant_id, note) VALUES ({tenant}, 'after retirement');
          wrote := 'succeeded';
        EXCEPTION WHEN insufficient_privilege THEN
          wrote := 'refused: ' || SQLERRM;
        END;
        RETURN NEXT;
      END
      $f$""").format(table=table, lock=sql.Literal(lock), tenant=sql.Literal(signed.ids["acme"]))
    result: dict[str, object] = {}

    def statement() -> None:
        try:
            with signed.app() as conn:
                conn.autocommit = False
                conn.execute(body)
                conn.execute("SELECT tenancy.set_tenant(%s)", (token,))
                result["row"] = conn.execute("SELECT * FROM pg_temp.until_retired()").fetchone()
                conn.rollback()
        except Exception as exc:  # noqa: BLE001 - reported by the test's thread
            result["error"] = exc

    runner = threading.Thread(target=statement)
    runner.start()
    try:
        held = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = %s::oid AND granted"
        deadline = time.time() + 10
        while pg_super.execute(held, (lock,), dbname=s.db_name) != [(1,)]:
            assert time.time() < deadline and runner.is_alive(), "the statement never read under the key"
            time.sleep(0.05)
        time.sleep(1.1)  # the retirement falls in a later second than the statement's start
        # The toolkit's own path (the context-key step's write), committed from another session.
        with signed.master() as master:
            have = context_key.read_db(master, s)
            context_key.write_db(master, s, have, have.retiring_current(int(time.time())))
    finally:
        runner.join(20)
    assert "error" not in result, result
    before, after, wrote = result["row"]  # type: ignore[misc]
    assert before == 2
    assert after == 0, "a query after the key's retirement still read under it"
    assert wrote.startswith("refused: ") and "row-level security" in wrote, wrote


def test_no_change_to_one_byte_of_a_token_names_a_tenant_or_raises(signed: Signed):
    s = signed.s
    token = signed.token("acme")
    variants = []
    for i, c in enumerate(token):
        for repl in {"." if c != "." else "x", "0" if c != "0" else "1", "é"}:
            variants.append(token[:i] + repl + token[i + 1:])
    variants += [token + "0", token[:-1], "." + token[1:], token[:-65] + ".." + token[-64:]]
    judge = """
      CREATE FUNCTION pg_temp.judge(setting text, tokens text[]) RETURNS TABLE (pos int, tenant uuid, failure text)
      LANGUAGE plpgsql AS $f$
      BEGIN
        FOR k IN 1..cardinality(tokens) LOOP
          pos := k; tenant := NULL; failure := NULL;
          PERFORM set_config(setting, tokens[k], true);
          BEGIN
            tenant := tenancy.current_tenant_id();
          EXCEPTION WHEN OTHERS THEN
            failure := SQLSTATE || ' ' || SQLERRM;
          END;
          IF tenant IS NOT NULL OR failure IS NOT NULL THEN RETURN NEXT; END IF;
        END LOOP;
      END
      $f$"""
    with signed.app() as conn:
        conn.autocommit = False
        conn.execute(judge)
        # The tokens are credentials: a bound parameter, never statement text.
        wrong = conn.execute("SELECT * FROM pg_temp.judge(%s, %s)", (s.tenant_setting, variants)).fetchall()
        assert wrong == [], [(variants[pos - 1][-70:], tenant, failure) for pos, tenant, failure in wrong][:5]
        assert conn.execute("SELECT * FROM pg_temp.judge(%s, %s)", (s.tenant_setting, [token])).fetchall() == \
            [(1, uuid.UUID(signed.ids["acme"]), None)]  # the judge itself sees a valid token
        conn.rollback()


@pytest.mark.parametrize("byte", ["x", "0", "-", "é"])
def test_a_token_whose_separator_is_changed_names_no_tenant_and_set_tenant_refuses_it(signed: Signed, byte: str):
    s = signed.s
    forged = _separator(signed.token("acme"), byte)
    assert ct.verify(forged, list(signed.ring().keys), max_ttl_s=s.context_token_max_ttl_s) is None
    with signed.app() as conn:
        conn.execute("SELECT set_config(%s, %s, false)", (s.tenant_setting, forged))
        assert conn.execute("SELECT tenancy.current_tenant_id()").fetchone() == (None,)
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_table(s, "acme"))).fetchone() == (0,)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not a valid signed token"):
            conn.execute("SELECT tenancy.set_tenant(%s)", (forged,))


def _set_tenant(conn: psycopg.Connection, token: str) -> str:
    """What set_tenant answers: the tenant it set, or the refusal's message. In a savepoint when a
    transaction is open (a refusal then leaves it, and its context, as they were), else in a transaction
    of its own."""
    try:
        with conn.transaction():
            return str(conn.execute("SELECT tenancy.set_tenant(%s)", (token,)).fetchone()[0])
    except psycopg.errors.InvalidParameterValue as exc:
        return f"22023: {exc.diag.message_primary}"


def test_set_tenant_refuses_a_valid_token_of_a_dropped_or_unregistered_tenant(signed: Signed, pg_master,
                                                                             pg_super: Super):
    s = signed.s
    tenants.create(s, "initech", master_dsn=pg_master.dsn())
    initech = pg_super.execute("SELECT tenant_id::text FROM tenancy.tenants WHERE slug = 'initech'",
                               dbname=s.db_name)[0][0]
    ring = signed.ring()
    held = {"initech": ring.mint(initech, 300), "globex": signed.token("globex"), "acme": signed.token("acme")}
    never = ring.mint(uuid.uuid4(), 300)
    with signed.app() as conn:
        conn.autocommit = False
        assert _set_tenant(conn, held["initech"]) == initech
        conn.rollback()
    tenants.drop(s, "initech", confirm="initech", master_dsn=pg_master.dsn())  # the toolkit's drop
    pg_super.execute("DELETE FROM tenancy.tenants WHERE slug = 'globex'", dbname=s.db_name)  # unregistered by hand
    refused = "22023: set_tenant: the token names a tenant that is not registered"
    with signed.app() as conn:
        conn.autocommit = False
        # A registered tenant's token still works.
        assert str(conn.execute("SELECT tenancy.set_tenant(%s)", (held["acme"],)).fetchone()[0]) == signed.ids["acme"]
        for label, token in (("dropped", held["initech"]), ("unregistered", held["globex"]), ("never", never)):
            assert _set_tenant(conn, token) == refused, label
            # The refusal leaves the previous context in force.
            assert str(conn.execute("SELECT tenancy.current_tenant_id()").fetchone()[0]) == signed.ids["acme"]
        # Written straight to the setting, a dropped tenant's token names it until it expires (the policies
        # read no registry), and it reaches no row: its schema is gone, and every other tenant's tables are
        # bound to their own tenant.
        conn.execute("SELECT set_config(%s, %s, true)", (s.tenant_setting, held["initech"]))
        assert conn.execute(sql.SQL("SELECT (SELECT count(*) FROM {}) + (SELECT count(*) FROM {})").format(
            _table(s, "acme"), _table(s, "globex"))).fetchone() == (0,)
        conn.rollback()


def test_the_registry_is_not_reached_before_the_mac_holds(signed: Signed):
    """A forged token for a registered tenant and one for a tenant that does not exist get the same
    answer: set_tenant is no oracle of which tenant ids exist."""
    s = signed.s
    stranger = ct.Key(signed.ring().current.kid, bytes(32), 0)
    answers = set()
    with signed.app() as conn:
        conn.autocommit = False
        for tenant in (signed.ids["acme"], signed.ids["globex"], str(uuid.uuid4()), str(uuid.uuid4())):
            answers.add(_set_tenant(conn, ct.mint(stranger, tenant, 60)))
        assert answers == {"22023: set_tenant: the tenant context is not a valid signed token"}
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(s.tenancy_schema, "tenants")))
    # The helper that reads the registry runs as its owner, with its search_path pinned.
    assert Super(signed.cluster).execute(
        "SELECT prosecdef, proconfig FROM pg_proc WHERE oid = 'tenancy.set_tenant(text)'::regprocedure",
        dbname=s.db_name) == [(True, ["search_path=pg_catalog, pg_temp"])]


# ----- the migrator's context ---------------------------------------------------------------------------

WORKER_LINE = ("SELECT pg_catalog.set_config(%(setting)s, tenancy.migration_context(%(tenant_id)s::uuid), true) "
               "IS NOT NULL")
"""What the migrate worker runs at the start of each tenant's transaction (the token never leaves the server)."""


def _migrator(sg: Signed, su: Super) -> psycopg.Connection:
    """The migrator's own login over TLS (a password set for the test by the cluster's superuser)."""
    password = uuid.uuid4().hex
    su.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(sg.s.migrator_role), sql.Literal(password)))
    return connect_as(sg.cluster, sg.s.migrator_role, password, sg.s.db_name)


def test_migration_context_gives_the_migrator_a_token_for_a_registered_tenant_only(signed: Signed, pg_super: Super):
    s = signed.s
    acme = signed.ids["acme"]
    ring = signed.ring()
    with _migrator(signed, pg_super) as conn:
        before = time.time()
        token = conn.execute("SELECT tenancy.migration_context(%s::uuid)", (acme,)).fetchone()[0]
        t = ct.parse(token)  # the documented format, minted with the current key
        assert (str(t.tenant_id), t.kid) == (acme, ring.current.kid)
        assert int(before) + 1 <= t.expires_at <= time.time() + s.context_token_max_ttl_s
        assert ct.verify(token, list(ring.keys), max_ttl_s=s.context_token_max_ttl_s) == uuid.UUID(acme)
        for tenant in (str(uuid.uuid4()), None):
            with pytest.raises(psycopg.errors.InvalidParameterValue, match="not registered"):
                conn.execute("SELECT tenancy.migration_context(%s::uuid)", (tenant,))
    with signed.app() as app:  # the application's helper accepts it, for acme only
        app.autocommit = False
        assert str(app.execute("SELECT tenancy.set_tenant(%s)", (token,)).fetchone()[0]) == acme
        assert app.execute(sql.SQL("SELECT count(*) FROM {}").format(_table(s, "acme"))).fetchone() == (2,)
        assert app.execute(sql.SQL("SELECT count(*) FROM {}").format(_table(s, "globex"))).fetchone() == (0,)
        app.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # app_user may not mint
            app.execute("SELECT tenancy.migration_context(%s::uuid)", (acme,))
    fn = pg_super.execute(
        "SELECT prosecdef, proconfig, has_function_privilege('public', p.oid, 'EXECUTE'), "
        "has_function_privilege(%s, p.oid, 'EXECUTE'), has_function_privilege(%s, p.oid, 'EXECUTE') "
        "FROM pg_proc p WHERE oid = 'tenancy.migration_context(uuid)'::regprocedure",
        (s.app_role, s.migrator_role), dbname=s.db_name)
    assert fn == [(True, ["search_path=pg_catalog, pg_temp"], False, False, True)]


def test_a_migration_under_its_context_writes_its_tenant_only(signed: Signed, pg_super: Super, pg_master):
    s = signed.s
    acme, globex = signed.ids["acme"], signed.ids["globex"]
    with _migrator(signed, pg_super) as conn:
        conn.autocommit = False
        # Without a context the migrator, though owner, is bound by row security (FORCE).
        insert = sql.SQL("INSERT INTO {} (tenant_id, note) VALUES (%s, %s)")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute(insert.format(_table(s, "acme")), (acme, "x"))
        conn.rollback()
        assert conn.execute(WORKER_LINE, {"setting": s.tenant_setting, "tenant_id": acme}).fetchone() == (True,)
        assert str(conn.execute("SELECT tenancy.current_tenant_id()").fetchone()[0]) == acme
        conn.execute(insert.format(_table(s, "acme")), (acme, "migrated"))
        assert conn.execute(sql.SQL("UPDATE {} SET note = note || '!'").format(_table(s, "acme"))).rowcount == 3
        assert conn.execute(sql.SQL("SELECT count(*) FROM {}").format(_table(s, "globex"))).fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            with conn.transaction():
                conn.execute(insert.format(_table(s, "globex")), (globex, "x"))
        conn.commit()
    assert pg_super.execute(sql.SQL("SELECT note FROM {} ORDER BY id").format(_table(s, "acme")), dbname=s.db_name) \
        == [("one!",), ("two!",), ("migrated!",)]
    assert pg_super.execute(sql.SQL("SELECT note FROM {} ORDER BY id").format(_table(s, "globex")),
                            dbname=s.db_name) == [("one",), ("two",)]


def test_migration_context_in_plain_mode_is_the_registered_tenant_id(signed: Signed, pg_super: Super, pg_master,
                                                                    pg_overlay):
    s = signed.s
    bootstrap.run(settings_mod.load(TEST_ENV, pg_overlay), master_dsn=pg_master.dsn())
    with _migrator(signed, pg_super) as conn:
        assert conn.execute("SELECT tenancy.migration_context(%s::uuid)", (signed.ids["acme"],)).fetchone() == \
            (signed.ids["acme"],)
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="not registered"):
            conn.execute("SELECT tenancy.migration_context(%s::uuid)", (str(uuid.uuid4()),))
    with signed.app() as app:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            app.execute("SELECT tenancy.migration_context(%s::uuid)", (signed.ids["acme"],))
    assert pg_super.execute("SELECT prosecdef FROM pg_proc WHERE oid = 'tenancy.migration_context(uuid)'::regprocedure",
                            dbname=s.db_name) == [(False,)]
