"""`tenantdb tenant create|list|drop` against a real PostgreSQL, as a master with RDS's powers."""

from __future__ import annotations

import json
import threading
import uuid

import psycopg
import pytest

from tenantdb import cli
from tenantdb.database.bootstrap import steps as bootstrap
from tenantdb.database.tenancy import slugs
from tenantdb.database.tenancy import tenants
from tenantdb.errors import ToolkitError, UsageError
from tenantdb.local.postgres import SUPERUSER
from tests.fixtures_pg import TEST_ENV

DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
NOT_GRANTED = ("TRUNCATE", "REFERENCES", "TRIGGER")


@pytest.fixture
def booted(pg_fresh, pg_master, pg_settings):
    bootstrap.run(pg_settings, master_dsn=pg_master.dsn())
    return pg_settings


def tenant_cli(capsys, overlay, dsn, *args: str) -> tuple[int, str, str]:
    code = cli.main(["--settings", str(overlay), "tenant", *args, "--env", TEST_ENV, "--master-dsn", dsn])
    out, err = capsys.readouterr()
    return code, out, err


def tenant_state(pg_super, s) -> list[tuple]:
    """Every tenant schema and registry row, to prove a refused command changed nothing."""
    return pg_super.execute(
        "SELECT 'schema', nspname, pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname LIKE 'tenant%%' "
        "UNION ALL SELECT 'row', slug, schema_name FROM tenancy.tenants ORDER BY 1, 2", dbname=s.db_name)


def test_create_makes_a_migrator_owned_schema_with_dml_only_defaults(booted, pg_master, pg_super, pg_overlay,
                                                                     capsys):
    s = booted
    code, out, err = tenant_cli(capsys, pg_overlay, pg_master.dsn(), "create", "acme")
    assert code == 0, err
    tenant_id = out.strip()
    assert str(uuid.UUID(tenant_id)) == tenant_id
    assert tenant_state(pg_super, s) == [("row", "acme", "tenant_acme"), ("schema", "tenant_acme", s.migrator_role)]
    assert pg_super.execute("SELECT tenant_id::text FROM tenancy.tenants WHERE slug = 'acme'",
                            dbname=s.db_name) == [(tenant_id,)]

    # A table the migrator creates there gives app_user and platform_admin DML and nothing else; its
    # sequence gives app_user nothing (nextval would draw another tenant's ids), platform_admin USAGE, SELECT.
    pg_super.execute("SET ROLE app_migrator; CREATE TABLE tenant_acme.projects (id serial, tenant_id uuid, name text)",
                     dbname=s.db_name)
    privs = pg_super.execute(
        "SELECT r, p, has_table_privilege(r, 'tenant_acme.projects', p) "
        "FROM unnest(%s::text[]) r, unnest(%s::text[]) p",
        ([s.app_role, s.platform_admin_role], list(DML + NOT_GRANTED)), dbname=s.db_name)
    for role, priv, has in privs:
        assert has == (priv in DML), (role, priv)
    assert pg_super.execute("SELECT has_schema_privilege(%s, 'tenant_acme', 'USAGE'), "
                            "has_schema_privilege(%s, 'tenant_acme', 'CREATE'), "
                            "has_sequence_privilege(%s, 'tenant_acme.projects_id_seq', 'USAGE, SELECT, UPDATE'), "
                            "has_sequence_privilege(%s, 'tenant_acme.projects_id_seq', 'USAGE')",
                            (s.app_role,) * 3 + (s.platform_admin_role,), dbname=s.db_name) == [
        (True, False, False, True)]


def test_creating_an_existing_tenant_is_an_error_that_changes_nothing(booted, pg_master, pg_super, pg_overlay,
                                                                       capsys):
    s = booted
    first = tenants.create(s, "acme", master_dsn=pg_master.dsn())
    before = tenant_state(pg_super, s)
    code, out, err = tenant_cli(capsys, pg_overlay, pg_master.dsn(), "create", "acme")
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "already exists" in err and first in err and "nothing changed" in err
    assert tenant_state(pg_super, s) == before

    # A schema of that name made by hand (not registered) is refused the same way.
    pg_super.execute("CREATE SCHEMA tenant_orphan", dbname=s.db_name)
    with pytest.raises(ToolkitError, match="exists but is not in tenancy.tenants"):
        tenants.create(s, "orphan", master_dsn=pg_master.dsn())
    assert pg_super.execute("SELECT count(*) FROM tenancy.tenants", dbname=s.db_name) == [(1,)]


@pytest.mark.parametrize("slug", [
    "Acme",                       # upper case
    "acme'; DROP SCHEMA tenancy CASCADE; --",
    'acme"',                      # a quote
    "acme;",                      # a semicolon
    "\u0430cme",                  # Cyrillic а, looks like "acme"
    "ac\u200bme",                 # zero-width space
    "\uff41cme",                  # fullwidth ａ
    "acm\u00e9",                  # é
    "acme-corp", "acme corp", "acme\n", "1acme", "_acme", "",
    "a" * 57,                     # tenant_ + 57 = 64 bytes: one too many
])
def test_bad_slugs_are_refused_with_exit_2_and_nothing_created(booted, pg_master, pg_super, pg_overlay, capsys,
                                                               slug):
    before = tenant_state(pg_super, booted)
    code, out, err = tenant_cli(capsys, pg_overlay, pg_master.dsn(), "create", slug)
    assert code == 2 and out == ""
    assert err.startswith("tenantdb: error: tenant slug ") and err.count("\n") == 1 and "Traceback" not in err
    assert tenant_state(pg_super, booted) == before


def test_the_longest_slug_that_fits_63_bytes_is_accepted(booted, pg_master, pg_super):
    slug = "a" * slugs.max_slug_bytes(booted)
    assert len("tenant_" + slug) == 63
    tenants.create(booted, slug, master_dsn=pg_master.dsn())
    assert pg_super.execute("SELECT nspname FROM pg_namespace WHERE nspname = %s", ("tenant_" + slug,),
                            dbname=booted.db_name) == [("tenant_" + slug,)]


def test_slugs_are_validated_before_connecting(pg_settings):
    # An unreachable DSN: validation must refuse first, without trying to connect.
    dsn = "postgresql://nobody:x@127.0.0.1:1/none?sslmode=require"
    with pytest.raises(UsageError, match="tenant slug"):
        tenants.create(pg_settings, "Bad", master_dsn=dsn)
    with pytest.raises(UsageError, match="tenant slug"):
        tenants.drop(pg_settings, "bad;", confirm="bad;", master_dsn=dsn)


def test_list_as_table_and_json(booted, pg_master, pg_overlay, pg_super, capsys):
    s = booted
    ids = {slug: tenants.create(s, slug, master_dsn=pg_master.dsn()) for slug in ("beta", "alpha")}
    # Alembic's version table is bookkeeping, not a tenant table: not counted.
    pg_super.execute("SET ROLE app_migrator; CREATE TABLE tenant_alpha.t (tenant_id uuid NOT NULL); "
                     "SELECT tenancy.enable_isolation('tenant_alpha.t'); CREATE TABLE tenant_alpha.loose (x int); "
                     "CREATE TABLE tenant_alpha.alembic_version (version_num text)", dbname=s.db_name)
    code, out, err = tenant_cli(capsys, pg_overlay, pg_master.dsn(), "list", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["slug"], r["tenant_id"], r["schema"], r["tables"], r["isolated"]) for r in rows] == [
        ("alpha", ids["alpha"], "tenant_alpha", 2, 1), ("beta", ids["beta"], "tenant_beta", 0, 0)]
    code, out, _ = tenant_cli(capsys, pg_overlay, pg_master.dsn(), "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["slug", "tenant_id", "schema", "tables", "isolated", "revision",
                                                "behind", "created_at"]
    assert lines[1].split()[:5] == ["alpha", ids["alpha"], "tenant_alpha", "2", "1"]


def test_drop_refuses_without_confirmation_and_says_what_it_would_drop(booted, pg_master, pg_super, pg_overlay,
                                                                       capsys):
    s = booted
    tid = tenants.create(s, "acme", master_dsn=pg_master.dsn())
    pg_super.execute("SET ROLE app_migrator; CREATE TABLE tenant_acme.orders (tenant_id uuid)", dbname=s.db_name)
    before = tenant_state(pg_super, s)
    code, out, err = tenant_cli(capsys, pg_overlay, pg_master.dsn(), "drop", "acme")
    assert code == 2 and "refusing" in err and "schema tenant_acme with 1 relation(s) (orders)" in err
    assert tid in err and "--confirm acme" in err
    code, out, err = tenant_cli(capsys, pg_overlay, pg_master.dsn(), "drop", "acme", "--confirm", "acm")
    assert code == 2 and "does not match" in err
    assert tenant_state(pg_super, s) == before

    code, out, err = tenant_cli(capsys, pg_overlay, pg_master.dsn(), "drop", "acme", "--confirm", "acme")
    assert code == 0, err
    assert "dropped schema tenant_acme" in out and tid in out
    assert tenant_state(pg_super, s) == []

    code, _, err = tenant_cli(capsys, pg_overlay, pg_master.dsn(), "drop", "acme", "--confirm", "acme")
    assert code == 1 and "no tenant 'acme'" in err


def test_drop_stops_when_objects_outside_the_schema_depend_on_it(booted, pg_master, pg_super):
    s = booted
    tenants.create(s, "acme", master_dsn=pg_master.dsn())
    pg_super.execute("SET ROLE app_migrator; CREATE TABLE tenant_acme.orders (tenant_id uuid); "
                     "RESET ROLE; CREATE SCHEMA reports; CREATE VIEW reports.all_orders AS "
                     "SELECT * FROM tenant_acme.orders", dbname=s.db_name)
    # Named with its owner (the superuser here), not in PostgreSQL's words.
    with pytest.raises(ToolkitError, match=rf"view reports\.all_orders \(owner {SUPERUSER}\)"):
        tenants.drop(s, "acme", confirm="acme", master_dsn=pg_master.dsn())
    assert pg_super.execute("SELECT count(*) FROM pg_class WHERE oid = 'tenant_acme.orders'::regclass",
                            dbname=s.db_name) == [(1,)]


def test_two_creates_of_one_slug_at_once_make_one_tenant(booted, pg_master, pg_super):
    s = booted
    outcomes: list[object] = []

    def create() -> None:
        try:
            outcomes.append(tenants.create(s, "race", master_dsn=pg_master.dsn()))
        except ToolkitError as exc:
            outcomes.append(exc)

    workers = [threading.Thread(target=create) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    ids = [o for o in outcomes if isinstance(o, str)]
    errors = [o for o in outcomes if isinstance(o, ToolkitError)]
    assert len(ids) == 1 and len(errors) == 1 and "already exists" in str(errors[0])
    assert pg_super.execute("SELECT tenant_id::text FROM tenancy.tenants", dbname=s.db_name) == [(ids[0],)]


def test_tenant_commands_need_the_bootstrap_first(pg_fresh, pg_master, pg_settings):
    with pytest.raises(ToolkitError, match="run `tenantdb bootstrap --env dev` first"):
        tenants.create(pg_settings, "acme", master_dsn=pg_master.dsn())
    with psycopg.connect(pg_master.dsn(pg_settings.db_name)) as conn:
        assert conn.execute("SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_acme'").fetchone() == (0,)


def test_sample_tenants_converge_and_pass_verify(pg_fresh, pg_master, pg_overlay, pg_super):
    from tenantdb import settings as settings_mod, verify
    from tenantdb.local import samples
    from tenantdb.report import Status

    rds_only = settings_mod.Settings.model_fields["aws_internal_roles"].default
    s = settings_mod.load(TEST_ENV, pg_overlay, sample_tenants=("acme", "globex"),
                          aws_internal_roles=(*rds_only, "postgres"))
    bootstrap.run(s, master_dsn=pg_master.dsn())
    assert samples.ensure_samples(s, master_dsn=pg_master.dsn()) == "sample tenants acme, globex (2 created)"
    assert samples.ensure_samples(s, master_dsn=pg_master.dsn()) == "sample tenants acme, globex (as they were)"
    rows = tenants.list_tenants(s, master_dsn=pg_master.dsn())
    # The sample migration set's five tables, isolated by `tenantdb migrate` (its version table is not a
    # tenant table: not counted), and the revision `tenantdb migrate` recorded in the registry.
    assert [(r["slug"], r["tables"], r["isolated"], r["revisions"]) for r in rows] == [
        ("acme", 5, 5, ["0002_projects"]), ("globex", 5, 5, ["0002_projects"])]
    # One row each, owned by the migrator, visible only under its own tenant's context.
    assert pg_super.execute("SELECT pg_get_userbyid(relowner), count(*) FROM pg_class WHERE relname = 'projects' "
                            "GROUP BY 1", dbname=s.db_name) == [(s.migrator_role, 2)]
    rep = verify.run(s, master_dsn=pg_master.dsn())
    checks = {c.id: c for c in rep.checks}
    assert rep.exit_code == 0, [(c.id, c.detail) for c in rep.checks if c.status is Status.FAIL]
    assert checks["ISO-RLS"].actual.startswith("10 tenant table(s) in 2 tenant schema(s), 10 isolated")
    assert "real tenant tables: 10 table(s) x 3 tenant context(s) probed" in checks["ISO-PROBE"].detail
