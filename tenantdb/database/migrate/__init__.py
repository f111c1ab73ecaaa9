"""`tenantdb migrate`: an Alembic script directory run in every tenant schema, as app_migrator.

- :mod:`.login`: which login (the migrator's secret, or the master with SET ROLE).
- :mod:`.catalog`: the SQL around the revisions (sql/migrate/): who is behind in one
  query (the registry's record), the per-tenant row lock, isolation by construction, the posture.
- :mod:`.converge`: at the start of a run, what tenants at head get without a worker.
- :mod:`.scripts`: the Alembic glue (script directory, target, env.py contract).
- :mod:`.worker`: one tenant's migration, one connection, one transaction, in its own process.
- :mod:`.runner`: the parent: plan, bounded parallelism, results; :mod:`.output`: the report.

:func:`bring_to_head` is the hook `tenant create` and local up's sample tenants use.
"""

from __future__ import annotations

from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings


def bring_to_head(s: Settings, slugs: list[str], *, migrations: str | None = None, endpoint: str | None = None,
                  master_dsn: str | None = None) -> str:
    """Migrate ``slugs`` to head; a one-line note, or ToolkitError naming each tenant that failed."""
    from tenantdb.database.migrate.runner import Options, run

    result = run(s, Options(migrations=migrations, slugs=slugs, endpoint=endpoint, master_dsn=master_dsn))
    bad = [f"{t['slug']}: {t['error']}" for t in result.tenants if t["status"] == "failed"]
    if bad or result.posture["status"] != "PASS":
        why = "; ".join(bad) or f"posture {result.posture['status']}"
        raise ToolkitError(f"tenant migrations: {why}; fix it and run `tenantdb migrate --env {s.environment} "
                           f"--tenant {' --tenant '.join(slugs)}`")
    done = sum(1 for t in result.tenants if t["status"] == "migrated")
    return f"{len(slugs)} tenant(s) at {', '.join(result.target)} ({done} migrated)"

