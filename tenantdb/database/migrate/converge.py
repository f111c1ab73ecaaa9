"""Converge, at the start of every migrate run, what tenants already at head never get from a worker.

Tenants at the target go to no worker, so what the toolkit now establishes in
a tenant schema (nothing for app_user on the version table and the sequences,
the allowed untenanted tables isolated) reaches them here: one statement
(sql/migrate/converge.sql) for every tenant of the run, each tenant in its own
subtransaction. A tenant that fails (a table locked past lock_timeout) is
reported with the holder when the watch saw one, and is not migrated in this
run; the others go on. It reports through notices, collected here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg

from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import locks
from tenantdb.database.plumbing import sqlfiles
from tenantdb.database.migrate import catalog
from tenantdb.database.migrate.login import Login, connect
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings


@dataclass
class Converged:
    tenants: int = 0
    """Tenant schemas changed."""
    failed: dict[str, str] = field(default_factory=dict)
    """slug -> one line: what it was doing, the error, and who held the lock."""


def run(s: Settings, login: Login, slugs: list[str] | None, lock_timeout_s: int) -> Converged:
    out = Converged()
    notices: list[tuple[str | None, str | None, str | None]] = []
    with connect(s, login) as conn:
        # A notice's fields are readable only inside the handler: keep them, not the notice.
        conn.add_notice_handler(lambda n: notices.append((n.message_primary, n.message_detail, n.message_hint)))
        with locks.Watch(login.target, s, conn, "converging tenant schemas") as watch:
            try:
                conn.execute(sqlfiles.named("migrate/converge_timeout"),
                             {"statement_timeout": f"{int(s.migrate_statement_timeout_s * 1000)}ms"})
                conn.execute(catalog.converge(s, slugs, lock_timeout_s, strict=False))
            except psycopg.Error as exc:
                raise ToolkitError(f"converging the tenant schemas as {login.how}: {db.first_line(exc)}; "
                                   "nothing was changed") from None
    for message, detail, hint in notices:
        if message == f"{catalog.CONVERGE_MARKER} converged":
            out.tenants = int(detail or 0)
        elif message == f"{catalog.CONVERGE_MARKER} failed" and detail:
            out.failed[detail] = _message(s, detail, hint or "", watch.rows)
    return out


def _message(s: Settings, slug: str, hint: str, holders: list[dict]) -> str:
    schema = s.tenant_schema_prefix + slug
    held = locks.describe([r for r in holders if str(r.get("what", "")).startswith(f"{schema}.")])
    return (f"converging {schema} before its migration: {hint}" + (f"; {held}" if held else "")
            + "; nothing of it changed, rerun when it is free")
