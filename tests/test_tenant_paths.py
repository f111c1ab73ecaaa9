"""The tenant paths a hostile app_user could use against migrations, attacked from app_user's OWN
TLS login: the version tables, the untenanted tables, the sequences, migrate's per-tenant lock,
tables locked under a migration, the registry's record of revisions, `tenant list`, and objects
pinned to a tenant schema from outside it.

Two tenants (acme, globex) at revision r1 of a small script directory: ``notes`` (an identity key
and tenant_id) and ``settings_kv`` (no tenant_id, allowed by settings untenanted_tables).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from tenantdb import cli
from tenantdb import settings as settings_mod
from tenantdb.database.tenancy import tenants
from tenantdb.errors import ToolkitError
from tests.fixtures_pg import TEST_ENV
from tests.test_isolation import login, set_tenant, tenant_ids
from tests.test_migrate import booted, overlay_with, script_dir, statuses  # noqa: F401 - booted is a fixture

UNTENANTED = "settings_kv"
R1 = ('op.create_table("notes", sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True), '
      'sa.Column("tenant_id", sa.Uuid, nullable=False), sa.Column("body", sa.Text))\n'
      'op.create_table("settings_kv", sa.Column("key", sa.Text, primary_key=True), sa.Column("value", sa.Text))')
R2 = 'op.add_column("notes", sa.Column("extra", sa.Text))'
R3 = 'op.drop_column("notes", "body")'
OLD_ADVISORY_KEY = 0x7464_6D67
"""The first key of the advisory lock earlier releases of migrate took per tenant (anyone can take it)."""


@dataclass
class Paths:
    s: settings_mod.Settings
    overlay: Path
    migrations: Path
    dsn: str
    ids: dict[str, str]


def run_migrate(p: Paths, capsys, *args: str) -> tuple[int, dict, str]:
    code = cli.main(["--settings", str(p.overlay), "migrate", "--env", TEST_ENV, "--master-dsn", p.dsn,
                     "--migrations", str(p.migrations), "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def tenant_error(report: dict, slug: str) -> str:
    return next(t.get("error", "") for t in report["tenants"] if t["slug"] == slug)


@pytest.fixture
def paths(booted, pg_master, pg_super, pg_overlay, tmp_path, capsys) -> Paths:
    overlay = overlay_with(pg_overlay, tmp_path, untenanted_tables=[UNTENANTED])
    s = settings_mod.load(TEST_ENV, overlay)
    for slug in ("acme", "globex"):
        tenants.create(s, slug, master_dsn=pg_master.dsn())
    p = Paths(s, overlay, script_dir(tmp_path, R1, R2, R3), pg_master.dsn(), tenant_ids(pg_super, s))
    code, report, err = run_migrate(p, capsys, "--to", "r1")
    assert code == 0 and set(statuses(report).values()) == {"migrated"}, err
    return p


def app(pg_cluster, pg_super, p: Paths) -> psycopg.Connection:
    return login(pg_cluster, pg_super, p.s, p.s.app_role)


def refused(conn: psycopg.Connection, statement: str, context: str | None,
            error: type[psycopg.Error] = psycopg.errors.InsufficientPrivilege) -> None:
    """``statement`` fails with ``error`` in its own transaction, under ``context`` (None: no context)."""
    with pytest.raises(error):
        with conn.transaction():
            if context:
                set_tenant(conn, context)
            conn.execute(statement)


# ----- the version tables -------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "SELECT version_num FROM {t}",
    "UPDATE {t} SET version_num = 'r3'",
    "DELETE FROM {t}",
    "INSERT INTO {t} VALUES (E'r1\\x01')",
    "LOCK TABLE {t} IN ACCESS SHARE MODE",
])
def test_app_user_can_neither_read_nor_write_any_version_table(paths, pg_cluster, pg_super, statement):
    p = paths
    with app(pg_cluster, pg_super, p) as conn:
        for table in ("tenant_acme.alembic_version", "tenant_globex.alembic_version"):
            for context in (p.ids["acme"], None):  # its own tenant's, another's, and none
                refused(conn, statement.format(t=table), context)
    # platform_admin keeps SELECT at most; the records are as migrate left them.
    assert pg_super.execute(
        "SELECT has_table_privilege(%s, 'tenant_acme.alembic_version', 'SELECT'), "
        "has_table_privilege(%s, 'tenant_acme.alembic_version', 'INSERT, UPDATE, DELETE, TRUNCATE')",
        (p.s.platform_admin_role,) * 2, dbname=p.s.db_name) == [(True, False)]
    assert pg_super.execute("SELECT version_num FROM tenant_globex.alembic_version", dbname=p.s.db_name) == [("r1",)]


# ----- the untenanted tables ------------------------------------------------------------

def test_an_untenanted_table_is_its_tenants_alone(paths, pg_cluster, pg_super):
    p = paths
    with app(pg_cluster, pg_super, p) as conn:
        with conn.transaction():  # acme in its own context: reads and writes its table
            set_tenant(conn, p.ids["acme"])
            conn.execute("INSERT INTO tenant_acme.settings_kv VALUES ('plan', 'gold')")
            assert conn.execute("SELECT value FROM tenant_acme.settings_kv").fetchall() == [("gold",)]
        for context in (p.ids["globex"], None):  # another tenant's context, and none
            refused(conn, "INSERT INTO tenant_acme.settings_kv VALUES ('x', 'y')", context)
            with conn.transaction():
                if context:
                    set_tenant(conn, context)
                assert conn.execute("SELECT count(*) FROM tenant_acme.settings_kv").fetchone() == (0,)
                assert conn.execute("UPDATE tenant_acme.settings_kv SET value = 'free'").rowcount == 0
                assert conn.execute("DELETE FROM tenant_acme.settings_kv").rowcount == 0
    assert pg_super.execute("SELECT key, value FROM tenant_acme.settings_kv", dbname=p.s.db_name) == [("plan", "gold")]


# ----- the sequences --------------------------------------------------------------------

def test_identity_inserts_need_no_sequence_privilege_and_nextval_on_another_tenants_is_refused(
        paths, pg_cluster, pg_super):
    p = paths
    with app(pg_cluster, pg_super, p) as conn:
        with conn.transaction():
            set_tenant(conn, p.ids["acme"])
            row = conn.execute("INSERT INTO tenant_acme.notes (tenant_id, body) VALUES (%s, 'hi') RETURNING id",
                               (p.ids["acme"],)).fetchone()
            assert row is not None and row[0] == 1
        for context in (p.ids["acme"], None):
            refused(conn, "SELECT nextval('tenant_globex.notes_id_seq')", context)
            refused(conn, "SELECT setval('tenant_globex.notes_id_seq', 1000000)", context)
    assert pg_super.execute("SELECT last_value, is_called FROM tenant_globex.notes_id_seq",
                            dbname=p.s.db_name) == [(1, False)]


# ----- migrate's per-tenant lock ------------------------------------------------------

def test_an_advisory_lock_on_the_old_key_does_not_stop_migrate(paths, pg_cluster, pg_super, capsys):
    p = paths
    with app(pg_cluster, pg_super, p) as conn:
        conn.autocommit = True
        conn.execute("SELECT pg_advisory_lock(%s, hashtext('tenant_acme'))", (OLD_ADVISORY_KEY,))
        started = time.monotonic()
        code, report, err = run_migrate(p, capsys, "--to", "r2", "--lock-timeout", "5")
        assert code == 0, err
        assert statuses(report) == {"acme": "migrated", "globex": "migrated"}
        assert time.monotonic() - started < 30


def test_a_table_app_user_locks_fails_that_tenant_alone_naming_app_user_and_its_pid(
        paths, pg_cluster, pg_super, capsys):
    p = paths
    with app(pg_cluster, pg_super, p) as conn:
        pid = conn.info.backend_pid
        with conn.transaction():
            set_tenant(conn, p.ids["acme"])
            conn.execute("LOCK TABLE tenant_acme.notes IN ACCESS SHARE MODE")  # enough to stall ALTER TABLE
            started = time.monotonic()
            code, report, err = run_migrate(p, capsys, "--to", "r2", "--lock-timeout", "3", "--jobs", "2")
            took = time.monotonic() - started
    assert code == 1 and statuses(report) == {"acme": "failed", "globex": "migrated"}
    error = tenant_error(report, "acme")
    assert "gave up waiting for a lock after 3s" in error, error
    assert f"role {p.s.app_role} (pid {pid}, AccessShareLock on tenant_acme.notes" in error, error
    assert took < 60
    assert pg_super.execute("SELECT revisions FROM tenancy.tenants ORDER BY slug", dbname=p.s.db_name) == [
        (["r1"],), (["r2"],)]  # acme rolled back whole, its record with it


# ----- the registry's record -------------------------------------------------------------

def test_migrate_refuses_a_tenant_whose_version_table_disagrees_with_the_registry(paths, pg_super, capsys):
    p = paths
    # Someone else (here the master) moves acme's version table ahead: Alembic alone would skip r2.
    pg_super.execute("UPDATE tenant_acme.alembic_version SET version_num = 'r2'", dbname=p.s.db_name)
    code, report, err = run_migrate(p, capsys, "--to", "r2")
    assert code == 1 and statuses(report) == {"acme": "failed", "globex": "migrated"}
    error = tenant_error(report, "acme")
    assert "tenant_acme.alembic_version says r2" in error and "tenants.revisions) says r1" in error, error
    assert "Repair:" in error and "SET revisions = NULL WHERE slug = 'acme'" in error and "\n" not in error
    assert "extra" not in {c for (c,) in pg_super.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'tenant_acme.notes'::regclass", dbname=p.s.db_name)}


def test_a_registry_without_a_record_adopts_the_version_table_under_the_lock(paths, pg_super, capsys):
    p = paths
    pg_super.execute("UPDATE tenancy.tenants SET revisions = NULL WHERE slug = 'globex'", dbname=p.s.db_name)
    code, report, err = run_migrate(p, capsys, "--to", "r1")  # globex goes to a worker, which records r1
    assert code == 0 and statuses(report) == {"acme": "current", "globex": "current"}, err
    assert pg_super.execute("SELECT slug, revisions FROM tenancy.tenants ORDER BY slug", dbname=p.s.db_name) == [
        ("acme", ["r1"]), ("globex", ["r1"])]


def test_a_strange_version_row_stalls_or_breaks_neither_migrate_nor_tenant_list(paths, pg_cluster, pg_super,
                                                                                 capsys):
    p = paths
    # A control character in a version row (written by the master: app_user can no longer write one) broke
    # the all-tenant read when it went through query_to_xml; the registry's record is a plain column.
    pg_super.execute("UPDATE tenant_globex.alembic_version SET version_num = E'r1\\x01'", dbname=p.s.db_name)
    with app(pg_cluster, pg_super, p) as conn:
        refused(conn, "LOCK TABLE tenant_acme.alembic_version IN ACCESS EXCLUSIVE MODE", p.ids["acme"])
        code = cli.main(["--settings", str(p.overlay), "tenant", "list", "--env", TEST_ENV, "--master-dsn", p.dsn,
                         "--format", "json"])
        out, err = capsys.readouterr()
    assert code == 0, err
    assert [(r["slug"], r["tables"], r["isolated"], r["revision"]) for r in json.loads(out)] == [
        ("acme", 2, 2, "r1"), ("globex", 2, 2, "r1")]  # notes and settings_kv; the version table not counted
    code, report, err = run_migrate(p, capsys, "--to", "r2")
    assert code == 1 and statuses(report) == {"acme": "migrated", "globex": "failed"}
    assert "says r1\x01, the registry" in tenant_error(report, "globex")


# ----- existing deployments converge ---------------------------------------------------

def as_migrator(pg_super, s, statements: str) -> None:
    pg_super.execute(f"SET ROLE {s.migrator_role}; {statements}", dbname=s.db_name)


def test_tenants_already_at_head_converge_at_the_start_of_a_run_and_a_locked_one_fails_alone(
        paths, pg_cluster, pg_super, capsys):
    p, s = paths, paths.s
    # An older deployment: app_user held DML on the version tables and USAGE on the sequences (and by default
    # on new ones), the untenanted tables were not isolated, and the registry recorded no revision.
    for schema in ("tenant_acme", "tenant_globex"):
        as_migrator(pg_super, s, f"GRANT ALL ON {schema}.alembic_version TO {s.app_role}; "
                                 f"GRANT USAGE ON {schema}.notes_id_seq TO {s.app_role}; "
                                 f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE ON SEQUENCES TO "
                                 f"{s.app_role}; ALTER TABLE {schema}.settings_kv DISABLE ROW LEVEL SECURITY, "
                                 f"NO FORCE ROW LEVEL SECURITY; DROP POLICY tenant_isolation ON {schema}.settings_kv")
    pg_super.execute("UPDATE tenancy.tenants SET revisions = NULL", dbname=s.db_name)
    with app(pg_cluster, pg_super, p) as conn:
        pid = conn.info.backend_pid
        with conn.transaction():
            conn.execute("LOCK TABLE tenant_globex.settings_kv IN ACCESS SHARE MODE")
            code, report, err = run_migrate(p, capsys, "--to", "r1", "--lock-timeout", "3")
    assert code == 1 and statuses(report) == {"acme": "current", "globex": "failed"}, report
    error = tenant_error(report, "globex")
    assert "converging tenant_globex" in error and "tenant_globex.settings_kv" in error, error
    assert f"role {s.app_role} (pid {pid}" in error, error
    assert report["converged"] == 1
    privileges = ("SELECT has_table_privilege(%(a)s, %(v)s, 'SELECT, INSERT, UPDATE, DELETE'), "
                  "has_sequence_privilege(%(a)s, %(q)s, 'USAGE'), "
                  "(SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE oid = %(k)s::regclass), "
                  "(SELECT count(*) FROM pg_default_acl d, aclexplode(d.defaclacl) x WHERE d.defaclobjtype = 'S' "
                  "AND d.defaclnamespace = %(n)s::regnamespace AND x.grantee = %(a)s::regrole) = 0")

    def state(schema: str) -> list[tuple]:
        return pg_super.execute(privileges, {"a": s.app_role, "v": f"{schema}.alembic_version",
                                             "q": f"{schema}.notes_id_seq", "k": f"{schema}.{UNTENANTED}",
                                             "n": schema}, dbname=s.db_name)

    assert state("tenant_acme") == [(False, False, True, True)]
    assert state("tenant_globex") == [(True, True, False, False)]  # its converge rolled back whole
    code, report, err = run_migrate(p, capsys, "--to", "r1")  # free again: the rerun converges it
    assert code == 0 and report["converged"] == 1, err
    assert state("tenant_globex") == [(False, False, True, True)]
    assert pg_super.execute("SELECT revisions FROM tenancy.tenants ORDER BY slug", dbname=s.db_name) == [
        (["r1"],), (["r1"],)]


# ----- serial columns ------------------------------------------------------------------

def test_a_serial_column_fails_the_tenants_migration_with_the_fix(paths, pg_super, capsys, tmp_path):
    p = paths
    (p.migrations / "versions" / "r2.py").write_text((p.migrations / "versions" / "r2.py").read_text().replace(
        R2, 'op.create_table("tags", sa.Column("id", sa.Integer, primary_key=True), '
            'sa.Column("tenant_id", sa.Uuid, nullable=False))'))
    code, report, err = run_migrate(p, capsys, "--to", "r2")
    assert code == 1 and statuses(report) == {"acme": "failed", "globex": "failed"}
    assert "serial column(s) tags.id" in tenant_error(report, "acme")
    assert "use GENERATED ... AS IDENTITY" in tenant_error(report, "acme")
    assert pg_super.execute("SELECT count(*) FROM pg_class WHERE relname = 'tags'", dbname=p.s.db_name) == [(0,)]


# ----- pins: objects outside a tenant schema that depend on it ---------------------------

def test_a_view_app_user_pins_a_tenant_with_blocks_drop_and_migrate_naming_its_owner(
        paths, pg_cluster, pg_super, capsys):
    p = paths
    with app(pg_cluster, pg_super, p) as conn:  # app_user has CREATE on the database (AC8's default)
        conn.autocommit = True
        conn.execute("CREATE SCHEMA pinning")
        conn.execute("CREATE VIEW pinning.v WITH (security_invoker = true) AS SELECT body FROM tenant_acme.notes")
    code, report, err = run_migrate(p, capsys)  # r2, then r3 drops notes.body
    assert code == 1 and statuses(report) == {"acme": "failed", "globex": "migrated"}
    error = tenant_error(report, "acme")
    assert f"objects outside tenant_acme depend on it: view pinning.v (owner {p.s.app_role})" in error, error
    with pytest.raises(ToolkitError, match=rf"depend on it: view pinning\.v \(owner {p.s.app_role}\)"):
        tenants.drop(p.s, "acme", confirm="acme", master_dsn=p.dsn)
    assert pg_super.execute("SELECT count(*) FROM tenancy.tenants WHERE slug = 'acme'", dbname=p.s.db_name) == [(1,)]


def test_tenant_drop_under_an_app_user_lock_gives_up_naming_the_holder_and_drops_nothing(
        paths, pg_cluster, pg_super, pg_overlay, tmp_path):
    """A LOCK TABLE held by app_user's own login: `tenant drop` waits at most toolkit_lock_timeout_s, then
    fails in one line naming app_user and its pid; the schema and the registry row stay."""
    p = paths
    (tmp_path / "short").mkdir()
    s = settings_mod.load(TEST_ENV, overlay_with(pg_overlay, tmp_path / "short", untenanted_tables=[UNTENANTED],
                                                 toolkit_lock_timeout_s=2))
    with app(pg_cluster, pg_super, p) as conn:
        pid = conn.info.backend_pid
        with conn.transaction():
            set_tenant(conn, p.ids["acme"])
            conn.execute("LOCK TABLE tenant_acme.notes IN ACCESS SHARE MODE")
            started = time.monotonic()
            with pytest.raises(ToolkitError) as err:
                tenants.drop(s, "acme", confirm="acme", master_dsn=p.dsn)
            took = time.monotonic() - started
    message = str(err.value)
    assert "tenant_acme's tables stayed in use for 2s" in message and "nothing dropped" in message, message
    assert f"role {s.app_role} (pid {pid}" in message and "\n" not in message, message
    assert took < 30
    assert pg_super.execute("SELECT count(*) FROM tenancy.tenants WHERE slug = 'acme'", dbname=s.db_name) == [(1,)]
    assert pg_super.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_acme'",
                            dbname=s.db_name) == [(1,)]


def test_tenant_list_is_not_held_up_by_an_app_user_lock_on_a_tenant_table(paths, pg_cluster, pg_super, capsys):
    """tenant list reads the registry and the catalog only: an ACCESS EXCLUSIVE lock app_user holds on a
    tenant table (it may lock the tables it writes) does not stall it."""
    p = paths
    with app(pg_cluster, pg_super, p) as conn:
        with conn.transaction():
            set_tenant(conn, p.ids["acme"])
            conn.execute("LOCK TABLE tenant_acme.notes IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            code = cli.main(["--settings", str(p.overlay), "tenant", "list", "--env", TEST_ENV, "--master-dsn",
                             p.dsn, "--format", "json"])
            took = time.monotonic() - started
            out, err = capsys.readouterr()
    assert code == 0, err
    assert [r["slug"] for r in json.loads(out)] == ["acme", "globex"]
    assert took < p.s.toolkit_lock_timeout_s  # never waited for the lock
