"""AC10 and ISO-PROBE in both tenant context modes, against a real PostgreSQL 15.

The probes set a valid context the way an application does, ``SELECT
tenancy.set_tenant($1)`` with the id (plain) or a token minted with the
database's key (signed); in signed mode a bare id written to the setting is
one more forged context, and must see nothing.
"""

from __future__ import annotations

from tenantdb import settings as settings_mod
from tenantdb import verify
from tenantdb.database import bootstrap
from tenantdb.report import Status
from tests.fixtures_pg import TEST_ENV
from tests.test_signed_context import Signed, signed, signed_overlay  # noqa: F401 - the signed-mode fixtures

PROBES = ("AC10", "ISO-PROBE")


def _checks(s: settings_mod.Settings, dsn: str) -> dict:
    return {c.id: c for c in verify.run(s, master_dsn=dsn).checks}


def test_ac10_and_iso_probe_pass_in_signed_then_plain_mode(signed: Signed, pg_master, pg_overlay):
    checks = _checks(signed.s, pg_master.dsn())
    for cid in PROBES:
        assert checks[cid].status is Status.PASS, (cid, checks[cid].detail)
    ac10 = checks["AC10"].actual
    assert "A sees its 2 rows of 3" in ac10 and "unsigned bare id context sees 0 rows" in ac10
    probe = checks["ISO-PROBE"].detail
    for held in ("unsigned bare id context: reads 0 rows, insert refused", "A reads 2 rows, 0 of another tenant",
                 "real tenant tables: 2 table(s) x 3 tenant context(s) probed",
                 "SET LOCAL context gone in the next transaction"):
        assert held in probe, held
    assert checks["ISO-SIGNED"].status is Status.PASS

    plain = settings_mod.load(TEST_ENV, pg_overlay)
    bootstrap.run(plain, master_dsn=pg_master.dsn())
    checks = _checks(plain, pg_master.dsn())
    for cid in PROBES:
        assert checks[cid].status is Status.PASS, (cid, checks[cid].detail)
    assert "unsigned bare id" not in checks["AC10"].actual + checks["ISO-PROBE"].detail  # the id is the context
    assert "real tenant tables: 2 table(s) x 3 tenant context(s) probed" in checks["ISO-PROBE"].detail


def test_a_verifier_that_also_trusts_a_bare_id_fails_both_in_signed_mode(signed: Signed, pg_master, pg_super):
    # Someone "eases adoption": the verifier takes a token's id without its MAC, or a bare uuid.
    pg_super.execute(
        "CREATE OR REPLACE FUNCTION tenancy.current_tenant_id() RETURNS uuid LANGUAGE sql STABLE AS $$ "
        "SELECT CASE WHEN s ~ '^[0-9a-f-]{36}$' THEN s::uuid WHEN s LIKE 'v1.%' THEN split_part(s, '.', 3)::uuid END "
        "FROM current_setting('app.current_tenant', true) s $$", dbname=signed.s.db_name)
    checks = _checks(signed.s, pg_master.dsn())
    assert checks["AC10"].status is Status.FAIL and "unsigned bare id context sees 2 rows" in checks["AC10"].detail
    assert checks["ISO-PROBE"].status is Status.FAIL
    assert "unsigned bare id context: reads 2 rows" in checks["ISO-PROBE"].detail
