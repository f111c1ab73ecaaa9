"""The local environment's sample tenants (settings.sample_tenants), which `local up` converges.

Each exists, at the head of the tenant migrations (settings tenant_migrations, else the sample
set shipped with the package) run by `tenantdb migrate` as the migrator and isolated by it, with
one ``projects`` row of its own, so verify's isolation checks run on real tenant tables.

A sample tenant that a user has since migrated with a script directory of their own
(``tenantdb migrate --migrations DIR``) holds revisions the sample set does not know. It is the
user's now: `local up` leaves it as it is and says so, instead of failing on the unknown revision
(a `local up` that cannot converge would stop before verify).
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from tenantdb.database.plumbing import sqlfiles
from tenantdb.database.tenancy import tenants
from tenantdb.database.tenancy.slugs import schema_name
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

SAMPLE_TABLE = tenants.SAMPLE_TABLE
SAMPLE_MIGRATIONS = "migrations/tenant"
"""The sample migration set (Story 1.3's core tables, then projects), shipped with the package."""


def ensure_samples(s: Settings, *, endpoint: str | None = None, master_dsn: str | None = None) -> str:
    """Converge settings.sample_tenants; a second run creates nothing. Returns a one-line note."""
    from tenantdb.database.migrate import bring_to_head, scripts

    if not s.sample_tenants:
        return "sample tenants none"
    created = [slug for slug in s.sample_tenants if _ensure_tenant(s, slug, endpoint, master_dsn)]
    where = scripts.resolve_dir(None, s.tenant_migrations or SAMPLE_MIGRATIONS)
    foreign = _foreign(s, scripts.load(where), endpoint, master_dsn)
    ours = [slug for slug in s.sample_tenants if slug not in foreign]
    if ours:
        bring_to_head(s, ours, migrations=str(where), endpoint=endpoint, master_dsn=master_dsn)
    with tenants._connect(s, endpoint, master_dsn) as conn:
        for slug in ours:
            _ensure_sample_table(conn, s, slug)
    note = f"sample tenants {', '.join(s.sample_tenants)}" + (f" ({len(created)} created)" if created
                                                              else " (as they were)")
    return note + "".join(f"; {slug} left at {', '.join(revs)}, migrated with another script directory "
                          f"than {where}" for slug, revs in foreign.items())


def _foreign(s: Settings, loaded: Any, endpoint: str | None, master_dsn: str | None) -> dict[str, tuple[str, ...]]:
    """Sample tenants whose recorded revisions ``loaded`` does not know: {slug: revisions}."""
    from tenantdb.database.migrate import catalog

    with tenants._connect(s, endpoint, master_dsn) as conn:
        rows = catalog.versions(conn, s, list(s.sample_tenants))
    return {r.slug: r.versions for r in rows if r.versions and loaded.unknown(r.versions)}


def _ensure_tenant(s: Settings, slug: str, endpoint: str | None, master_dsn: str | None) -> bool:
    with tenants._connect(s, endpoint, master_dsn) as conn:
        tenants._require_registry(conn, s)
        if tenants._lookup(conn, s, slug)["tenant_id"]:
            return False
    tenants.create(s, slug, endpoint=endpoint, master_dsn=master_dsn)
    return True


def _ensure_sample_table(conn: psycopg.Connection, s: Settings, slug: str) -> None:
    """One first row in the tenant's ``projects`` (made by the migrations), under its own tenant context."""
    from tenantdb.database.tenancy.context_key import context_for

    table = sql.Identifier(schema_name(s, slug), SAMPLE_TABLE)
    with conn.transaction():
        tenant = conn.execute(sqlfiles.named("tenants/sample_tenant_id", {"registry": tenants._registry(s)}),
                              (slug,)).fetchone()
    if tenant is None:
        raise ToolkitError(f"sample tenant {slug} is not registered; run `tenantdb local up` again")
    # The context as an application sets it: the id (plain) or a token minted as the master (signed),
    # read before the migrator's transaction (minting reads the key ring and ends its transaction).
    context = context_for(s, conn, str(tenant[0]))
    with conn.transaction():
        conn.execute(sqlfiles.named("tenants/sample_as_migrator", {"migrator": sql.Identifier(s.migrator_role)}))
        conn.execute(sqlfiles.named("tenants/sample_context"), (s.tenant_setting, context))
        conn.execute(sqlfiles.named("tenants/sample_row", {"table": table}), (tenant[0], f"{slug}'s first project"))
