"""`tenantdb verify`: prove every acceptance criterion against the live system.

Which checks run, their ids, titles and order come from the registry
(tenantdb/checks.py, the rows with a ``verify`` function). AWS-side checks are
SKIP with the reason under ``--master-dsn``; the runner fails closed
(tenantdb.report.run_check), so a check that cannot run is ERROR, never PASS. The TLS check runs last: it
reports on every connection the others made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tenantdb import checks
from tenantdb.report import Report
from tenantdb.settings import Settings
from tenantdb.verify.context import Context

STAGE = "verify"
MASTER_DSN_SKIP = "--master-dsn: AWS not consulted"


@dataclass(frozen=True)
class Spec:
    """A verify-stage control with its function, for tools that run checks one by one (bench/)."""

    id: str
    title: str
    ref: str
    needs_aws: bool

    @property
    def fn(self) -> Callable[[Context], Any]:
        return checks.load(self.ref)


CHECKS: tuple[Spec, ...] = tuple(Spec(c.id, c.title, c.verify, c.needs_aws)
                                 for c in checks.stage(STAGE) if c.verify)


def run(s: Settings, *, endpoint: str | None = None, master_dsn: str | None = None) -> Report:
    """Every check against the environment; the report's exit_code is the CLI's."""
    if master_dsn is not None:
        from tenantdb.database.plumbing.master import parse_master_dsn

        parse_master_dsn(master_dsn)  # a malformed DSN is a usage error (exit 2), not a failed check
    elif endpoint:
        from tenantdb.database.plumbing.master import parse_endpoint

        parse_endpoint(endpoint)
    ctx = Context(s, endpoint=endpoint, master_dsn=master_dsn)
    report = Report(s.environment, STAGE)

    def skip(c: checks.Control) -> str | None:
        return MASTER_DSN_SKIP if c.needs_aws and not ctx.via_aws else None

    try:
        report.add(checks.run(STAGE, lambda fn: fn(ctx), skip=skip))
    finally:
        ctx.close()
    return report
