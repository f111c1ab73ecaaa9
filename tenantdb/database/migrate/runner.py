"""The parent of a migrate run: decide who is behind (one query), fan out to workers, collect, check.

Nothing changes before every input is known good: the script directory and
``--to`` are loaded, the slugs validated and looked up; then the tenant
schemas are converged (:mod:`.converge`: one statement), then workers start.
Who is behind comes from the registry's record of each tenant's revisions;
workers are started only when some tenant is behind (or not recorded yet), so
a no-op over thousands of tenants is two connections and two statements.
"""

from __future__ import annotations

import io
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, ThreadPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from tenantdb.database.plumbing import connection as db
from tenantdb.database.migrate import catalog, converge, scripts, worker
from tenantdb.database.migrate.login import Login, connect, resolve
from tenantdb.database.tenancy.slugs import validate_slug
from tenantdb.errors import ToolkitError, UsageError
from tenantdb.settings import Settings

IN_FLIGHT_PER_JOB = 4
"""Tasks queued per worker: enough to keep it busy, few enough that memory stays flat at any tenant count."""


@dataclass
class Options:
    migrations: str | None = None
    jobs: int | None = None
    slugs: list[str] = field(default_factory=list)
    to: str | None = None
    sql: bool = False
    endpoint: str | None = None
    master_dsn: str | None = None
    lock_timeout_s: int = catalog.LOCK_TIMEOUT_S


@dataclass
class Result:
    directory: str
    target: list[str]
    login: str
    jobs: int
    tenants: list[dict[str, Any]]
    posture: dict[str, Any]
    sql: str | None = None
    converged: int = 0
    """Tenant schemas the run's converge step changed (:mod:`.converge`)."""

    @property
    def failed(self) -> list[str]:
        return [t["slug"] for t in self.tenants if t["status"] == "failed"]


def run(s: Settings, opt: Options) -> Result:
    if opt.jobs is not None and opt.jobs < 1:
        raise UsageError(f"--jobs {opt.jobs}: must be at least 1")
    slugs = [validate_slug(s, slug) for slug in opt.slugs]  # exit 2 before anything connects
    directory = scripts.resolve_dir(opt.migrations, s.tenant_migrations)
    scripts.require_alembic()
    # The catalog query (read-only) runs while Alembic is imported and the directory loaded: on a
    # no-op rerun those two are most of the time. A bad directory or --to still wins (exit 2).
    with ThreadPoolExecutor(max_workers=1) as pool:
        reading = pool.submit(_read_catalog, s, opt, slugs)
        loaded = scripts.load(directory, opt.to)
        login, rows, free = reading.result()
    missing = sorted(set(slugs) - {r.slug for r in rows})
    if missing:
        raise UsageError(f"--tenant {', '.join(missing)}: no such tenant in {s.tenancy_schema}.tenants "
                         "(see `tenantdb tenant list`); nothing changed")
    refuse_downgrade(loaded, rows)
    jobs = opt.jobs or default_jobs(s, free)
    if opt.sql:
        results, tasks = plan(loaded, rows)
        text = offline_sql(s, loaded, tasks)
        return Result(str(directory), list(loaded.target), login.how, 0, results, {"status": "SKIP"}, text)
    converged = converge.run(s, login, slugs or None, opt.lock_timeout_s)
    results, tasks = plan(loaded, rows, converged.failed)
    results += list(execute(s, login, loaded, tasks, min(jobs, max(len(tasks), 1)), opt.lock_timeout_s))
    results.sort(key=lambda r: r["slug"])
    migrated = [r["schema"] for r in results if r["status"] == "migrated"]
    return Result(str(directory), list(loaded.target), login.how, jobs, results, final_posture(s, login, migrated),
                  converged=converged.tenants)


def _read_catalog(s: Settings, opt: Options, slugs: list[str]) -> tuple[Login, list[catalog.TenantVersion], int]:
    """The login, every tenant's recorded revision (one query) and, without --jobs, the free connection slots."""
    login = resolve(s, endpoint=opt.endpoint, master_dsn=opt.master_dsn)
    with connect(s, login) as conn:
        try:
            rows = catalog.versions(conn, s, slugs or None)
        except psycopg.Error as exc:
            raise ToolkitError(f"cannot read the tenant registry as {login.how}: {db.first_line(exc)} "
                               f"(run `tenantdb bootstrap --env {s.environment}` first)") from None
        return login, rows, catalog.headroom(conn) if opt.jobs is None else 0


def plan(loaded: scripts.Scripts, rows: list[catalog.TenantVersion],
         failed: dict[str, str] | None = None) -> tuple[list[dict[str, Any]], list[worker.Task]]:
    """(results of tenants that need no run: current, impossible, or failed to converge), (tasks for those
    behind). A tenant whose revisions the registry has not recorded yet (NULL) is behind: its worker
    reads its version table under its lock and records it."""
    done: list[dict[str, Any]] = []
    tasks: list[worker.Task] = []
    for r in rows:
        base = {"slug": r.slug, "schema": r.schema, "from": list(r.versions or ()), "seconds": 0.0}
        unknown = loaded.unknown(r.versions or ())
        if failed and r.slug in failed:
            done.append({**base, "status": "failed", "to": list(r.versions or ()), "error": failed[r.slug]})
        elif not r.schema_exists:
            done.append({**base, "status": "failed", "to": [], "error": f"schema {r.schema} does not exist "
                         f"(registered but missing: `tenantdb tenant drop {r.slug} --confirm {r.slug}`)"})
        elif unknown:
            done.append({**base, "status": "failed", "to": list(r.versions or ()),
                         "error": f"revision {', '.join(unknown)} is not in {loaded.directory}"})
        elif loaded.is_current(r.versions):
            done.append({**base, "status": "current", "to": list(r.versions or ())})
        else:
            tasks.append(worker.Task(r.slug, r.schema, r.tenant_id, r.versions or ()))
    return done, tasks


def refuse_downgrade(loaded: scripts.Scripts, rows: list[catalog.TenantVersion]) -> None:
    """Exit 2, before anything changes, when ``--to`` names a revision some tenant is already past:
    migrate only upgrades, and reporting such a tenant "current" would hide that it is not at REV."""
    if loaded.destination == "heads":
        return
    past = [r.slug for r in rows if r.versions and not loaded.unknown(r.versions)
            and loaded.is_current(r.versions) and set(r.versions) != set(loaded.target)]
    if past:
        shown = ", ".join(past[:5]) + (f" and {len(past) - 5} more" if len(past) > 5 else "")
        raise UsageError(f"--to {loaded.destination}: tenant(s) {shown} already past it; migrate does not "
                         "downgrade (write a new revision that undoes the change); nothing changed")


def default_jobs(s: Settings, free: int) -> int:
    """Half the free connection slots (the application keeps the rest), at most the cores."""
    slots = min(free, s.max_connections)
    return max(1, min(len(os.sched_getaffinity(0)), slots // 2))


def execute(s: Settings, login: Login, loaded: scripts.Scripts, tasks: list[worker.Task],
            jobs: int, lock_timeout_s: int = catalog.LOCK_TIMEOUT_S) -> Iterator[dict[str, Any]]:
    """Each task's result. One tenant alone runs in this process (nothing runs beside it)."""
    if not tasks:
        return
    args = (s, login, str(loaded.directory), None if loaded.destination == "heads" else loaded.destination,
            lock_timeout_s)
    if len(tasks) == 1:
        worker.init(*args)
        yield worker.migrate(tasks[0])
        return
    ctx = multiprocessing.get_context("spawn")
    todo = iter(tasks)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx, initializer=worker.init, initargs=args) as pool:
        running: dict[Future, worker.Task] = {}
        while True:
            for task in todo:
                running[pool.submit(worker.migrate, task)] = task
                if len(running) >= jobs * IN_FLIGHT_PER_JOB:
                    break
            if not running:
                return
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                yield _outcome(fut, running.pop(fut))


def _outcome(fut: Future, task: worker.Task) -> dict[str, Any]:
    try:
        return fut.result()
    except BrokenProcessPool:
        error = "its worker process died (env.py or a revision ended the process); rerun to retry"
    except Exception as exc:  # noqa: BLE001 - a worker that cannot start (script dir, engine)
        error = worker.describe(exc)
    return {"slug": task.slug, "schema": task.schema, "from": list(task.versions), "to": list(task.versions),
            "status": "failed", "error": error, "seconds": 0.0}


def final_posture(s: Settings, login: Login, schemas: list[str]) -> dict[str, Any]:
    """The migrated schemas' isolation, read again after every commit (one query)."""
    if not schemas:
        return {"status": "PASS", "schemas": 0, "findings": []}
    try:
        with connect(s, login) as conn:
            findings = catalog.posture(conn, s, schemas)
    except ToolkitError as exc:
        return {"status": "ERROR", "schemas": len(schemas), "findings": [], "error": str(exc)}
    return {"status": "FAIL" if findings else "PASS", "schemas": len(schemas), "findings": findings}


def offline_sql(s: Settings, loaded: scripts.Scripts, tasks: list[worker.Task]) -> str:
    """What would run, per tenant behind, without running it (Alembic's offline mode)."""
    out = io.StringIO()
    for t in tasks:
        out.write(f"-- tenant {t.slug} ({t.schema}): {', '.join(t.versions) or 'empty'} -> "
                  f"{', '.join(loaded.target)}\n")
        out.write(catalog.session(s, t.schema).as_string(None) + ";\n")
        cfg = scripts.config(loaded.directory, t.schema, t.tenant_id, t.slug, None)
        start = t.versions[0] if len(t.versions) == 1 else None
        scripts.upgrade(loaded, cfg, as_sql=True, starting_rev=start, output=out)
        out.write(f"-- then, in the same transaction: {s.tenancy_schema}.enable_isolation on every table with "
                  "tenant_id and every allowed untenanted table, app_user's privileges on the version table and "
                  "the sequences revoked, the schema's isolation posture checked, the revisions recorded in "
                  f"{s.tenancy_schema}.tenants\n\n")
    return out.getvalue()


def migrations_dir(s: Settings, given: str | None = None) -> Path:
    return scripts.resolve_dir(given, s.tenant_migrations)
