"""`tenantdb migrate` against a real PostgreSQL 15, bootstrapped, with real Alembic and SQLAlchemy.

The sample set (migrations/tenant) and small script directories written here
play a team's own (`--migrations`). Attacks are made as app_user logged in
itself over TLS.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import psycopg
from psycopg import sql
import pytest

from tenantdb import cli
from tenantdb import settings as settings_mod
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.tenancy import tenants
from tenantdb.paths import PROJECT_ROOT
from tests.fixtures_pg import TEST_ENV, connect_as

SAMPLE = PROJECT_ROOT / "migrations" / "tenant"
CORE = ("audit_logs", "documents", "projects", "tenant_api_keys", "users")
"""The sample set's tables: Story 1.3's four, then projects (local up's sample rows)."""
HEAD = "0002_projects"


@pytest.fixture
def booted(pg_fresh, pg_master, pg_settings):
    bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
    return pg_settings


def make_tenants(s, dsn: str, *slugs: str) -> None:
    for slug in slugs:
        tenants.create(s, slug, master_dsn=dsn)


def migrate(capsys, overlay, dsn, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--settings", str(overlay), "migrate", "--env", TEST_ENV, "--master-dsn", dsn, *args])
    out, err = capsys.readouterr()
    return code, out, err


def as_json(capsys, overlay, dsn, *args: str) -> tuple[int, dict, str]:
    code, out, err = migrate(capsys, overlay, dsn, "--format", "json", *args)
    return code, (json.loads(out) if out.strip() else {}), err


def statuses(report: dict) -> dict[str, str]:
    return {t["slug"]: t["status"] for t in report["tenants"]}


def tables(pg_super, s, schema: str) -> list[tuple]:
    """(table, owner, rls, forced) of every table in ``schema``."""
    return pg_super.execute(
        "SELECT c.relname, pg_get_userbyid(c.relowner), c.relrowsecurity, c.relforcerowsecurity FROM pg_class c "
        "WHERE c.relnamespace = %s::regnamespace AND c.relkind IN ('r', 'p') ORDER BY 1", (schema,), dbname=s.db_name)


def fingerprint(pg_super, s) -> list[tuple]:
    """Every relation, policy and version row in tenant schemas: what "nothing changed" compares."""
    return pg_super.execute(
        "SELECT 'rel', n.nspname, c.relname, c.xmin::text FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname LIKE 'tenant\\_%%' UNION ALL "
        "SELECT 'pol', c.relnamespace::regnamespace::text, p.polname, p.xmin::text FROM pg_policy p "
        "JOIN pg_class c ON c.oid = p.polrelid WHERE c.relnamespace::regnamespace::text LIKE 'tenant\\_%%' "
        "ORDER BY 1, 2, 3", dbname=s.db_name)


def script_dir(tmp_path: Path, *revisions: str) -> Path:
    """A team's own script directory: the sample env.py, and ``revisions`` as bodies of upgrade()."""
    d = tmp_path / "migrations"
    (d / "versions").mkdir(parents=True)
    (d / "env.py").write_text((SAMPLE / "env.py").read_text())
    down = None
    for i, body in enumerate(revisions, 1):
        rev = f"r{i}"
        (d / "versions" / f"{rev}.py").write_text(textwrap.dedent(f"""\
            from alembic import op
            import sqlalchemy as sa
            revision = {rev!r}
            down_revision = {down!r}
            branch_labels = None
            depends_on = None
            def upgrade():
            """) + textwrap.indent(textwrap.dedent(body).strip(), "    ") + "\n")
        down = rev
    return d


def overlay_with(pg_overlay: Path, tmp_path: Path, **fields: object) -> Path:
    path = tmp_path / "overlay.toml"
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items())
    path.write_text(pg_overlay.read_text() + extra)
    return path


def app_login(pg_cluster, pg_super, s) -> psycopg.Connection:
    password = secrets.token_urlsafe(18)
    pg_super.execute(f"ALTER ROLE {s.app_role} LOGIN PASSWORD '{password}'")
    return connect_as(pg_cluster, s.app_role, password, s.db_name)


# ----- the sample set, every tenant, a no-op rerun ---------------------------------

def test_migrate_brings_every_tenant_to_head_isolated_and_a_rerun_changes_nothing(
        booted, pg_master, pg_super, pg_overlay, capsys):
    s = booted
    make_tenants(s, pg_master.dsn(), "acme", "globex", "initech")
    code, report, err = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(SAMPLE), "--jobs", "2")
    assert code == 0, err
    assert statuses(report) == {"acme": "migrated", "globex": "migrated", "initech": "migrated"}
    assert report["posture"] == {"status": "PASS", "schemas": 3, "findings": []}
    assert "SET ROLE app_migrator" in report["login"]
    for schema in ("tenant_acme", "tenant_globex", "tenant_initech"):
        # Owned by the migrator (not the master it logged in as), RLS enabled and forced on every core table;
        # Alembic's version table inside the tenant schema, at head.
        assert tables(pg_super, s, schema) == [("alembic_version", s.migrator_role, False, False)] + [
            (t, s.migrator_role, True, True) for t in CORE]
        assert pg_super.execute(f"SELECT version_num FROM {schema}.alembic_version", dbname=s.db_name) == [(HEAD,)]  # noqa: S608 - schema is one of the test's own constant names
    # Nothing landed outside the tenant schemas (unqualified names went to the tenant's schema).
    assert pg_super.execute("SELECT count(*) FROM pg_class WHERE relname = ANY(%s) "
                            "AND relnamespace::regnamespace::text NOT LIKE 'tenant\\_%%'",
                            (list(CORE),), dbname=s.db_name) == [(0,)]
    # Story 1.3: unique keys lead with tenant_id, foreign keys are composite, indexes on tenant_id/user_id/timestamp.
    idx = {r[0] for r in pg_super.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'tenant_acme'",
                                          dbname=s.db_name)}
    assert {"ix_audit_logs_timestamp", "ix_documents_user_id", "ix_users_tenant_id", "users_tenant_id_email_key",
            "tenant_api_keys_tenant_id_key_hash_key"} <= idx
    assert pg_super.execute("SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = 'documents_user_fkey' "
                            "AND connamespace = 'tenant_acme'::regnamespace", dbname=s.db_name) == [
        ("FOREIGN KEY (tenant_id, user_id) REFERENCES tenant_acme.users(tenant_id, id) ON DELETE CASCADE",)]

    before = fingerprint(pg_super, s)
    code, again, err = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(SAMPLE))
    assert code == 0, err
    assert set(statuses(again).values()) == {"current"}
    assert fingerprint(pg_super, s) == before


def test_a_data_migration_runs_under_its_tenants_context_in_signed_mode(
        pg_fresh, pg_master, pg_super, pg_overlay, tmp_path, capsys):
    """Signed mode: the migrator's context is a token minted inside the server for the tenant, so a data
    migration reads its own tenant's rows and writes pass the tenant's row security; a bare id (what
    earlier releases set) names no tenant there, and the same revision would have seen nothing."""
    overlay = overlay_with(pg_overlay, tmp_path, tenant_context="signed")
    s = settings_mod.load(TEST_ENV, overlay)
    bootstrap.run(s, master_dsn=pg_master.dsn())
    make_tenants(s, pg_master.dsn(), "acme", "globex")
    scripts = script_dir(tmp_path, """
        op.create_table("notes", sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
                        sa.Column("tenant_id", sa.Uuid, nullable=False), sa.Column("body", sa.Text))
        op.execute("SELECT tenancy.enable_isolation('notes')")
        op.execute("INSERT INTO notes (tenant_id, body) VALUES (tenancy.current_tenant_id(), 'seeded')")
        """, """
        # a data migration: reads the tenant's own rows under its context and writes a derived one
        op.execute("INSERT INTO notes (tenant_id, body) "
                   "SELECT tenant_id, 'copy of ' || body FROM notes WHERE body = 'seeded'")
        """)
    code, report, err = as_json(capsys, overlay, pg_master.dsn(), "--migrations", str(scripts))
    assert code == 0, (err, report)
    assert statuses(report) == {"acme": "migrated", "globex": "migrated"}
    ids = dict(pg_super.execute("SELECT slug, tenant_id FROM tenancy.tenants", dbname=s.db_name))
    for slug in ("acme", "globex"):
        rows = pg_super.execute(f"SELECT tenant_id, body FROM tenant_{slug}.notes ORDER BY id",  # noqa: S608 - the test's own slugs
                                dbname=s.db_name)
        assert rows == [(ids[slug], "seeded"), (ids[slug], "copy of seeded")]
    # The token never left the server: no statement text or bound parameter the client sent held one.
    assert "v1." not in err and "v1." not in json.dumps(report)


def test_app_user_logged_in_itself_sees_only_its_tenant_in_migrated_tables(
        booted, pg_master, pg_super, pg_overlay, pg_cluster, capsys):
    s = booted
    make_tenants(s, pg_master.dsn(), "acme", "globex")
    assert migrate(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(SAMPLE))[0] == 0
    ids = dict(pg_super.execute("SELECT slug, tenant_id::text FROM tenancy.tenants", dbname=s.db_name))
    with app_login(pg_cluster, pg_super, s) as conn:
        for slug in ("acme", "globex"):
            with conn.transaction():
                conn.execute("SELECT tenancy.set_tenant(%s)", (ids[slug],))
                conn.execute(sql.SQL("INSERT INTO {} (tenant_id, email, name) VALUES (%s, 'a@x', %s)").format(
                    sql.Identifier(f"tenant_{slug}", "users")), (ids[slug], slug))
        with conn.transaction():
            conn.execute("SELECT tenancy.set_tenant(%s)", (ids["acme"],))
            assert conn.execute("SELECT name FROM tenant_acme.users").fetchall() == [("acme",)]
            assert conn.execute("SELECT count(*) FROM tenant_globex.users").fetchone() == (0,)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # WITH CHECK: no row for another tenant
            with conn.transaction():
                conn.execute("SELECT tenancy.set_tenant(%s)", (ids["acme"],))
                conn.execute("INSERT INTO tenant_acme.users (tenant_id, email, name) VALUES (%s, 'b@x', 'x')",
                             (ids["globex"],))
        with pytest.raises(psycopg.errors.InsufficientPrivilege):  # no DDL for app_user
            conn.execute("ALTER TABLE tenant_acme.users DISABLE ROW LEVEL SECURITY")


# ----- the "done when" sabotage scenario ----------------------------------------------

def test_a_sabotaged_tenant_fails_alone_and_a_rerun_completes_it(booted, pg_master, pg_super, pg_overlay, capsys):
    s = booted
    make_tenants(s, pg_master.dsn(), "acme", "globex", "initech")
    # Sabotage: a table in globex's way (made as the migrator, as a stray manual change would be).
    pg_super.execute("SET ROLE app_migrator; CREATE TABLE tenant_globex.documents (id int, tenant_id uuid)",
                     dbname=s.db_name)
    sabotaged = tables(pg_super, s, "tenant_globex")
    code, report, err = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(SAMPLE), "--jobs", "2")
    assert code == 1
    assert err.count("\n") == 1 and "globex" in err and "acme" not in err and "Traceback" not in err
    assert statuses(report) == {"acme": "migrated", "globex": "failed", "initech": "migrated"}
    failed = next(t for t in report["tenants"] if t["slug"] == "globex")
    assert "DuplicateTable" in failed["error"] and "documents" in failed["error"]
    # Its transaction rolled back whole: no users table, no version table, the stray table as it was.
    assert tables(pg_super, s, "tenant_globex") == sabotaged
    for schema in ("tenant_acme", "tenant_initech"):
        assert [t[0] for t in tables(pg_super, s, schema)] == ["alembic_version", *CORE]

    pg_super.execute("DROP TABLE tenant_globex.documents", dbname=s.db_name)
    code, report, err = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(SAMPLE))
    assert code == 0, err
    assert statuses(report) == {"acme": "current", "globex": "migrated", "initech": "current"}
    assert report["posture"]["status"] == "PASS" and report["posture"]["schemas"] == 1


# ----- isolation by construction -------------------------------------------------------

def test_a_table_without_tenant_id_is_refused_unless_the_settings_allow_it(
        booted, pg_master, pg_super, pg_overlay, capsys, tmp_path):
    s = booted
    make_tenants(s, pg_master.dsn(), "acme")
    d = script_dir(tmp_path, 'op.create_table("countries", sa.Column("code", sa.Text, primary_key=True))\n'
                             'op.create_table("notes", sa.Column("id", sa.Integer, sa.Identity(), primary_key=True), '
                             'sa.Column("tenant_id", sa.Uuid, nullable=False))')
    code, report, err = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(d))
    assert code == 1 and "acme" in err
    assert "countries" in report["tenants"][0]["error"] and "untenanted_tables" in report["tenants"][0]["error"]
    assert tables(pg_super, s, "tenant_acme") == []

    allowed = overlay_with(pg_overlay, tmp_path, untenanted_tables=["countries"])
    code, report, err = as_json(capsys, allowed, pg_master.dsn(), "--migrations", str(d))
    assert code == 0, err
    # The allowed table is isolated too, bound to the schema's tenant as a whole (no tenant_id).
    assert tables(pg_super, s, "tenant_acme") == [("alembic_version", s.migrator_role, False, False),
                                                  ("countries", s.migrator_role, True, True),
                                                  ("notes", s.migrator_role, True, True)]


def test_a_revision_that_opens_a_table_to_every_tenant_is_rolled_back(
        booted, pg_master, pg_super, pg_overlay, capsys, tmp_path):
    s = booted
    make_tenants(s, pg_master.dsn(), "acme")
    d = script_dir(tmp_path,
                   'op.create_table("notes", sa.Column("id", sa.Integer, sa.Identity(), primary_key=True), '
                   'sa.Column("tenant_id", sa.Uuid, nullable=False))',
                   'op.execute("ALTER TABLE notes ENABLE ROW LEVEL SECURITY")\n'
                   'op.execute("CREATE POLICY everyone ON notes FOR SELECT TO PUBLIC USING (true)")')
    assert migrate(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(d), "--to", "r1")[0] == 0
    code, report, err = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(d))
    assert code == 1
    assert "policy everyone applies to app_user without the tenant context" in report["tenants"][0]["error"]
    assert pg_super.execute("SELECT version_num FROM tenant_acme.alembic_version", dbname=s.db_name) == [("r1",)]
    assert pg_super.execute("SELECT count(*) FROM pg_policy WHERE polname = 'everyone'", dbname=s.db_name) == [(0,)]


# ----- resumable, --to, --tenant, --sql, concurrency ------------------------------

def test_only_tenants_behind_run_and_to_stops_at_a_revision(booted, pg_master, pg_super, pg_overlay, capsys,
                                                            tmp_path):
    s = booted
    make_tenants(s, pg_master.dsn(), "acme", "globex")
    d = script_dir(tmp_path,
                   'op.create_table("notes", sa.Column("id", sa.Integer, sa.Identity(), primary_key=True), '
                   'sa.Column("tenant_id", sa.Uuid, nullable=False))',
                   'op.add_column("notes", sa.Column("body", sa.Text))\n'
                   'op.create_index("ix_notes_body", "notes", ["body"])')
    code, report, _ = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(d), "--to", "r1",
                              "--tenant", "acme")
    assert code == 0 and statuses(report) == {"acme": "migrated"} and report["target"] == ["r1"]
    code, report, _ = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(d))
    assert code == 0
    assert [(t["slug"], t["from"], t["to"]) for t in report["tenants"]] == [("acme", ["r1"], ["r2"]),
                                                                          ("globex", [], ["r2"])]
    before = fingerprint(pg_super, s)
    code, out, err = migrate(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(d), "--to", "r1")
    # migrate never downgrades, and says so rather than calling a tenant at r2 "current" at r1
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "--to r1: tenant(s) acme, globex already past it; migrate does not downgrade" in err
    assert fingerprint(pg_super, s) == before


def test_output_writes_the_report_to_a_file_too(booted, pg_master, pg_overlay, capsys, tmp_path):
    """The README's convention: --output FILE is a file (the report also goes to stdout); a format is refused."""
    make_tenants(booted, pg_master.dsn(), "acme")
    target = tmp_path / "migrate.json"
    code, out, _ = migrate(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(SAMPLE), "--format", "json",
                           "--output", str(target))
    assert code == 0 and json.loads(target.read_text()) == json.loads(out)
    assert statuses(json.loads(out)) == {"acme": "migrated"}
    code, out, err = migrate(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(SAMPLE), "--output", "json")
    assert code == 2 and "did you mean --format json?" in err


def test_a_tenants_migration_never_waits_for_another_tenants_tables(booted, pg_master, pg_super, pg_overlay,
                                                                    pg_cluster, capsys, tmp_path):
    """Each tenant's migration reads only its own schema's tables: with globex's table (one with a
    default) held ACCESS EXCLUSIVE by another session, as a running migration of globex holds it, acme
    migrates without waiting. (Deparsing every default in the database locked other tenants' tables:
    two tenants migrated at once deadlocked.)"""
    s = booted
    make_tenants(s, pg_master.dsn(), "acme", "globex")
    d = script_dir(tmp_path,
                   'op.create_table("notes", sa.Column("id", sa.Integer, sa.Identity(), primary_key=True), '
                   'sa.Column("tenant_id", sa.Uuid, nullable=False), '
                   'sa.Column("body", sa.Text, nullable=False, server_default=""))',
                   'op.add_column("notes", sa.Column("extra", sa.Text))')
    code, report, err = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(d), "--to", "r1")
    assert code == 0, err
    with pg_cluster.superuser_connect(s.db_name) as holder, holder.transaction():
        holder.execute("LOCK TABLE tenant_globex.notes IN ACCESS EXCLUSIVE MODE")
        code, report, err = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(d),
                                    "--tenant", "acme", "--lock-timeout", "3")
    assert code == 0, (err, report)
    assert statuses(report) == {"acme": "migrated"}


def test_sql_prints_what_would_run_and_changes_nothing(booted, pg_master, pg_super, pg_overlay, capsys):
    s = booted
    make_tenants(s, pg_master.dsn(), "acme")
    before = fingerprint(pg_super, s)
    code, out, err = migrate(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(SAMPLE), "--sql")
    assert code == 0, err
    assert 'SET search_path = "tenant_acme", pg_catalog, pg_temp' in out
    assert "CREATE TABLE users" in out and "CREATE TABLE tenant_acme.alembic_version" in out
    assert "enable_isolation" in out
    assert fingerprint(pg_super, s) == before


def test_two_runs_at_once_never_work_on_the_same_tenant(booted, pg_master, pg_super, pg_overlay, tmp_path):
    s = booted
    make_tenants(s, pg_master.dsn(), "acme", "globex")
    # A revision that takes a while, and counts how often it ran, in a table of its own.
    pg_super.execute("CREATE TABLE public.runs (schema text); GRANT INSERT ON public.runs TO app_migrator",
                     dbname=s.db_name)
    d = script_dir(tmp_path, 'op.execute("SELECT pg_catalog.pg_sleep(1.5)")\n'
                             'op.execute("INSERT INTO public.runs SELECT pg_catalog.current_schema()")')
    cmd = [str(PROJECT_ROOT / ".venv" / "bin" / "tenantdb"), "--settings", str(pg_overlay), "migrate", "--env",
           TEST_ENV, "--migrations", str(d), "--jobs", "2", "--format", "json"]
    env = {**os.environ, "TENANTDB_MASTER_DSN": pg_master.dsn()}  # the DSN's password stays out of argv
    runs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            for _ in range(2)]
    outs = [p.communicate(timeout=240) for p in runs]
    assert [p.returncode for p in runs] == [0, 0], [o[1] for o in outs]
    assert sorted(pg_super.execute("SELECT schema FROM public.runs", dbname=s.db_name)) == [
        ("tenant_acme",), ("tenant_globex",)]
    per_tenant = [statuses(json.loads(o[0])) for o in outs]
    for slug in ("acme", "globex"):
        assert sorted(r[slug] for r in per_tenant) in (["current", "migrated"],)


def test_twenty_tenants_with_four_jobs(booted, pg_master, pg_super, pg_overlay, capsys):
    s = booted
    slugs = [f"t{i:02d}" for i in range(20)]
    make_tenants(s, pg_master.dsn(), *slugs)
    code, report, err = as_json(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(SAMPLE), "--jobs", "4")
    assert code == 0, err
    assert statuses(report) == {slug: "migrated" for slug in slugs} and report["jobs"] == 4
    assert pg_super.execute("SELECT count(*) FROM pg_class WHERE relname = 'documents' AND relrowsecurity "
                            "AND relforcerowsecurity", dbname=s.db_name) == [(20,)]


# ----- bad input: one line, exit 2, nothing changed -----------------------------------

@pytest.mark.parametrize("args, message", [
    (["--migrations", "/tmp"], "not an Alembic script directory"),
    (["--migrations", str(SAMPLE), "--to", "nosuchrev"], "--to nosuchrev"),
    (["--migrations", str(SAMPLE), "--tenant", "nosuch"], "--tenant nosuch: no such tenant"),
    (["--migrations", str(SAMPLE), "--tenant", "Bad;"], "tenant slug"),
    (["--migrations", str(SAMPLE), "--jobs", "0"], "--jobs"),
])
def test_bad_input_is_one_line_exit_2_and_changes_nothing(booted, pg_master, pg_super, pg_overlay, capsys, args,
                                                          message):
    s = booted
    make_tenants(s, pg_master.dsn(), "acme")
    before = fingerprint(pg_super, s)
    code, out, err = migrate(capsys, pg_overlay, pg_master.dsn(), *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err
    assert fingerprint(pg_super, s) == before


def test_without_the_migrations_extra_it_says_so_in_one_line(pg_overlay):
    # A real interpreter in which Alembic cannot be imported (the post-apply image without the extra).
    code = ("import sys; sys.modules['alembic'] = None; from tenantdb import cli; "
            f"sys.exit(cli.main(['--settings', {str(pg_overlay)!r}, 'migrate', '--env', 'dev', "
            "'--master-dsn', 'postgresql://u:p@127.0.0.1:1/x?sslmode=require']))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 2 and p.stdout == ""
    assert p.stderr.count("\n") == 1 and "tenantdb[migrations]" in p.stderr


# ----- tenant create and tenant list ------------------------------------------------

def test_tenant_create_brings_the_new_tenant_to_head_and_list_shows_who_is_behind(
        booted, pg_master, pg_super, pg_overlay, capsys, tmp_path):
    s = booted
    d = script_dir(tmp_path, 'op.create_table("notes", sa.Column("id", sa.Integer, sa.Identity(), primary_key=True), '
                             'sa.Column("tenant_id", sa.Uuid, nullable=False))')
    overlay = overlay_with(pg_overlay, tmp_path, tenant_migrations=str(d))
    code = cli.main(["--settings", str(overlay), "tenant", "create", "acme", "--env", TEST_ENV,
                     "--master-dsn", pg_master.dsn()])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert len(out.strip().splitlines()) == 1  # the tenant id, as before
    assert tables(pg_super, s, "tenant_acme") == [("alembic_version", s.migrator_role, False, False),
                                                  ("notes", s.migrator_role, True, True)]

    # A new revision: acme is now behind.
    (d / "versions" / "r2.py").write_text((d / "versions" / "r1.py").read_text().replace(
        "revision = 'r1'", "revision = 'r2'").replace("down_revision = None", "down_revision = 'r1'").replace(
        '"notes"', '"more_notes"'))
    settings_mod.load(TEST_ENV, overlay)  # the overlay stays valid
    code = cli.main(["--settings", str(overlay), "tenant", "list", "--env", TEST_ENV, "--master-dsn",
                     pg_master.dsn(), "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    [row] = json.loads(out)
    assert (row["slug"], row["revision"], row["behind"]) == ("acme", "r1", True)


# ----- the local environment: the migrator's own login, from its secret --------------

def test_local_migrate_with_the_migrator_secret_then_verify(local_cli, local_cold_up, tmp_path):
    assert local_cold_up.returncode == 0, local_cold_up.stderr
    slugs = ("mig_one", "mig_two")
    for slug in slugs:  # tenant create brings each to the sample set's head
        created = local_cli("tenant", "create", slug, "--env", "local")
        assert created.returncode == 0, created.stderr
    listed = {t["slug"]: t for t in json.loads(local_cli("tenant", "list", "--env", "local", "--format",
                                                         "json").stdout)}
    assert all((listed[s]["revision"], listed[s]["behind"]) == (HEAD, False) for s in slugs)
    for _ in range(2):  # the settings' sample set: every tenant at head; the rerun finds nothing to do
        everyone = local_cli("migrate", "--env", "local", "--format", "json")
        assert everyone.returncode == 0, everyone.stderr
        report = json.loads(everyone.stdout)
        assert set(statuses(report)) >= {"acme", "globex", *slugs} and report["posture"]["status"] == "PASS"
        assert all(t["to"] == [HEAD] for t in report["tenants"])
    assert set(statuses(report).values()) == {"current"}
    # A team's next revision (the sample set plus a column and an index), run with the migrator's login.
    d = tmp_path / "team"
    import shutil
    shutil.copytree(SAMPLE, d, ignore=shutil.ignore_patterns("__pycache__"))
    (d / "versions" / "0003_body.py").write_text(textwrap.dedent("""\
        from alembic import op
        import sqlalchemy as sa
        revision = "0003_body"
        down_revision = "0002_projects"
        branch_labels = None
        depends_on = None
        def upgrade():
            op.add_column("projects", sa.Column("body", sa.Text))
            op.create_index("ix_projects_body", "projects", ["body"])
        """))
    only = [a for s in slugs for a in ("--tenant", s)]
    run = local_cli("migrate", "--env", "local", "--migrations", str(d), "--format", "json", *only)
    assert run.returncode == 0, run.stderr + run.stdout[-3000:]
    report = json.loads(run.stdout)
    assert statuses(report) == {s: "migrated" for s in slugs} and "from secret" in report["login"]
    rerun = local_cli("migrate", "--env", "local", "--migrations", str(d), "--format", "json", *only)
    assert rerun.returncode == 0 and set(statuses(json.loads(rerun.stdout)).values()) == {"current"}
    verified = local_cli("verify", "--env", "local", "--format", "json")
    assert verified.returncode == 0, verified.stdout[-2000:]
    for slug in slugs:
        assert local_cli("tenant", "drop", slug, "--confirm", slug, "--env", "local").returncode == 0


def test_local_ups_sample_tenants_converge_after_a_user_migrated_them_with_their_own_set(
        booted, pg_master, pg_overlay, capsys, tmp_path):
    """`local up` after `migrate --migrations DIR`: the sample stage no longer fails on DIR's revision."""
    from tenantdb.local import samples

    s = settings_mod.load(TEST_ENV, pg_overlay, sample_tenants=("acme", "globex"))
    assert samples.ensure_samples(s, master_dsn=pg_master.dsn()) == "sample tenants acme, globex (2 created)"
    # The team's own set: the sample set (which they started from) and a revision of their own after it.
    d = tmp_path / "own"
    shutil.copytree(SAMPLE, d, ignore=shutil.ignore_patterns("__pycache__"))
    (d / "versions" / "0003_notes.py").write_text(textwrap.dedent(f"""\
        from alembic import op
        import sqlalchemy as sa
        revision = "0003_notes"
        down_revision = {HEAD!r}
        def upgrade():
            op.add_column("projects", sa.Column("note", sa.Text))
        """))
    assert migrate(capsys, pg_overlay, pg_master.dsn(), "--migrations", str(d), "--tenant", "acme")[0] == 0
    note = samples.ensure_samples(s, master_dsn=pg_master.dsn())
    assert note.startswith("sample tenants acme, globex (as they were); acme left at 0003_notes, migrated with "
                           "another script directory than "), note
    rows = {r["slug"]: r["revisions"] for r in tenants.list_tenants(s, master_dsn=pg_master.dsn())}
    assert rows == {"acme": ["0003_notes"], "globex": [HEAD]}
