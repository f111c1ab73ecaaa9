"""`tenantdb bootstrap`: converge the database to what sql/ declares, and fill the connection secret.

Order (fixed): the database (created when missing; CREATE DATABASE cannot
run in a transaction), then each ``sql/NNN_*.sql`` file in name order and the
role model's tenancy-roles step, all in ONE transaction sent as one
multi-statement query (tenantdb.database.bootstrap.batch): the bootstrap is
atomic. The password steps (app_user's reported right after the roles file)
and the context-key step follow, once the roles are committed. The whole run,
after the database step, holds the lock of the table ``<tenancy>.bootstrap_lock``
in a session of its own, so two bootstraps never interleave (the second waits,
naming the holder, then finds nothing to do). Not an advisory lock: any role,
app_user's login included, may take any advisory key; only the master may lock
its own table (sql/bootstrap/lock_table.sql).

"Changed" is measured, not assumed: before and after each step one catalog
query takes the step's fingerprint (role attributes, explicit grants,
extension version, schema and function definitions); a step changed when its
fingerprint did. A run records what it left; a rerun that finds exactly that
(one probe) runs no step and reports nothing changed.

No password is ever printed or logged: app_user's is set as a SCRAM verifier
computed in tenantdb.database.bootstrap.app_secrets, and written only to the secrets.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from tenantdb.database.bootstrap import app_secrets
from tenantdb.database.bootstrap import batch
from tenantdb.database.plumbing import connection as db
from tenantdb.database.tenancy import context_key
from tenantdb.database.bootstrap import extensions
from tenantdb.database.plumbing import locks
from tenantdb.database.bootstrap import roles
from tenantdb.database.plumbing import sqlfiles
from tenantdb.database.plumbing.master import resolve_master
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

APP_NAME = "tenantdb-bootstrap"
"""application_name of every bootstrap session (pg_stat_activity shows who is running one)."""

LOCK_TABLE = "bootstrap_lock"
"""The table, in the toolkit's schema, whose lock serializes bootstraps (sql/bootstrap/lock_table.sql)."""


@dataclass(frozen=True)
class Step:
    name: str
    changed: bool
    detail: str
    skipped: bool = False

    @property
    def state(self) -> str:
        return "skipped" if self.skipped else "changed" if self.changed else "unchanged"


@dataclass
class Result:
    environment: str
    target: str
    tls: str = ""
    steps: list[Step] = field(default_factory=list)

    @property
    def changed(self) -> int:
        return sum(1 for s in self.steps if s.changed)

    def to_dict(self) -> dict[str, Any]:
        return {"environment": self.environment, "changed": self.changed,
                "steps": [{"name": s.name, "changed": s.changed, "skipped": s.skipped, "detail": s.detail}
                          for s in self.steps]}

    def render(self, fmt: str = "table") -> str:
        if fmt == "json":
            return json.dumps(self.to_dict(), indent=2) + "\n"
        width = max(len(s.name) for s in self.steps) if self.steps else 4
        lines = [f"bootstrap · {self.environment} · {self.target} ({self.tls})"]
        lines += [f"  {s.name:<{width}}  {s.state:<9}  {s.detail}" for s in self.steps]
        lines.append(f"  {self.changed} of {len(self.steps)} steps changed" if self.changed
                     else "  nothing changed: the database already matches sql/")
        return "\n".join(lines) + "\n"


# ----- fingerprints: one catalog query per step --------------------------------

_SUMMARY = {
    "database-grants": "{app}: {grants} on {db}; PUBLIC: no CREATE on schema public",
    "extensions": "pg_stat_statements installed",
    "tenancy": "schema {schema} with {schema}.set_tenant() and {schema}.current_tenant_id()",
    "statistics-access": "pg_stat_statements readable by the master and pg_read_all_stats only",
    "no-hooks": "role settings: {role_settings}; powerful memberships: {powerful_memberships}",
}


def _fingerprint(conn: psycopg.Connection, step: Any, values: dict[str, sql.Composable]) -> dict[str, Any]:
    return db.fetch_one_dict(conn, sqlfiles.load(sqlfiles.state_file(step), values)) or {}


def _diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    if before.get("exists") is False or before.get("schema") is False:
        return "created"
    if before.get("function") is False and before.get("schema_acl") is None:
        return "created"  # the toolkit's schema as the lock made it on the first run, bare (lock_table.sql)
    parts = []
    for key, old in before.items():
        new = after.get(key)
        if old == new:
            continue
        if key == "catalog" or key.endswith(("_definition", "_acl", "_comment")):
            parts.append(f"{key.replace('_', ' ')} updated")
        else:
            parts.append(f"{key.replace('_', ' ')}: {_show(old)} -> {_show(new)}")
    return "; ".join(parts)


def _show(v: Any) -> str:
    return "none" if v is None else str(v).lower() if isinstance(v, bool) else str(v)


# ----- the run ----------------------------------------------------------------

def run(s: Settings, *, endpoint: str | None = None, master_dsn: str | None = None,
        rotate_app_password: bool = False, rotate_context_key: bool = False) -> Result:
    """Converge the database and the connection secret; returns what changed, step by step.

    Round trips: one on the admin database (TLS, database, roles), CREATE DATABASE when missing,
    three for the lock (its table, the lock, commit), one probe, and, unless the probe proves
    nothing would change, one batch holding
    every step in one transaction (tenantdb.database.bootstrap.batch). The password and
    context-key steps follow the batch (they need its roles committed); in signed mode the
    context-key step adds its own reads and writes.
    """
    mt = resolve_master(s, endpoint=endpoint, master_dsn=master_dsn)
    app_secrets.refuse_if_rotating(s, mt)  # a rotation owns the passwords until it finishes
    with db.connect(mt.target, s, autocommit=True, application_name=APP_NAME) as admin:
        head = _admin_facts(admin, s)
        result = Result(s.environment, mt.target.describe(), f"TLS {head['tls_version']}" if head["tls"] else "NO TLS")
        if s.access_stack:
            _require_access_roles(s, head["roles_found"])  # pg_roles is cluster-wide
        # Before the lock, which lives in the database: two first runs may both try; one is told it exists.
        result.steps.append(_database_step(admin, s, head["db_exists"]))
    target = mt.target.with_db(s.db_name)
    with serialized(target, s), db.connect(target, s, autocommit=True, application_name=APP_NAME) as conn:
        sql_steps = _guard("probe", lambda: _sql_steps(conn, s))
        for step in sql_steps:
            result.steps.append(step)
            if step.name == "roles":
                result.steps.append(_guard("app-password", lambda: Step("app-password", *app_secrets.password_step(
                    conn, s, mt, endpoint, rotate_app_password))))
        result.steps.append(_guard("migrator-password", lambda: Step(
            "migrator-password", *app_secrets.password_step(
                conn, s, mt, endpoint, False, s.migrator_role, s.migrator_secret_name))))
        result.steps.append(_guard("context-key", lambda: Step("context-key", *context_key.converge(
            conn, s, mt, rotate=rotate_context_key))))  # signed tenant context (docs/tenant-context.md)
    return result


def _admin_facts(admin: psycopg.Connection, s: Settings) -> dict[str, Any]:
    """One round trip: TLS, whether the database exists, which declared roles exist."""
    values = {"db_name_name": sql.Literal(s.db_name), "role_names": sql.Literal([r.name for r in roles.model(s).roles])}
    return db.fetch_one_dict(admin, sqlfiles.named("bootstrap/admin", values)) or {}


def _units(s: Settings, values: dict[str, sql.Composable]) -> tuple[list[batch.Unit], list[Step]]:
    """The measured steps of the batch, and the steps the access stack owns (reported as skipped)."""
    units, skipped = [], []
    for path in sqlfiles.files():
        name = sqlfiles.step_name(path)
        if s.access_stack and name in ACCESS_STACK_STEPS:
            skipped.append(Step(name, False, ACCESS_SKIP.format(stack=s.access_stack_id), skipped=True))
        else:
            units.append(batch.Unit(name, batch.state_query(path, values), sqlfiles.load(path, values)))
    # The migrator and platform_admin (tenantdb.database.bootstrap.roles), measured by the role model's own query.
    name, body = (("object-grants", roles.object_grants_script(s)) if s.access_stack
                  else ("tenancy-roles", roles.script(s)))
    units.append(batch.Unit(name, roles.fingerprint_sql(s), body, many_rows=True))
    if s.access_stack:
        skipped.append(Step("tenancy-roles", False, ACCESS_SKIP.format(stack=s.access_stack_id), skipped=True))
    return units, skipped


def _sql_steps(conn: psycopg.Connection, s: Settings) -> list[Step]:
    """Probe; when something would change, run the batch. Every sql/ step and the role model's, in order."""
    values = placeholders(s)
    units, skipped = _units(s, values)
    role_names = [r.name for r in roles.model(s).roles]
    found = batch.probe(conn, s, units, role_names, values)
    before_step = _superuser_checks(conn, s, found)
    if found.up_to_date and not before_step:
        measured = {u.name: (found.states[u.name], found.states[u.name]) for u in units}
    else:
        look = min(locks.REPORT_AFTER_S, s.toolkit_lock_timeout_s / 4)  # well before a wait gives up
        with locks.Watch.beside(conn, "tenantdb: bootstrap", after_s=look, every_s=look) as watch:
            try:
                measured = batch.run(conn, s, units, role_names, values, before_step)
            except batch.BatchError as exc:
                failure = exc
            else:
                failure = None
        if failure is not None:
            raise _batch_failure(failure, watch.explain()) from None
    steps = {u.name: _step(u.name, s, *measured[u.name]) for u in units}
    steps.update({st.name: st for st in skipped})
    order = [sqlfiles.step_name(p) for p in sqlfiles.files()] + ["tenancy-roles", "object-grants"]
    return [steps[n] for n in order if n in steps]


def _batch_failure(exc: batch.BatchError, holders: str = "") -> ToolkitError:
    where = f"step {exc.step}" if exc.step else "bootstrap"
    if locks.is_lock_wait(exc.cause):
        return ToolkitError(f"{where}: {db.first_line(exc.cause)}{holders}; the bootstrap is one transaction, "
                            "so nothing was changed: rerun once the lock is released")
    if isinstance(exc.cause, psycopg.OperationalError):
        return ToolkitError(f"{where}: connection lost ({db.first_line(exc.cause)}); the bootstrap is one "
                            "transaction, so nothing was changed: run the bootstrap again")
    return ToolkitError(f"{where} failed: {db.first_line(exc.cause)}; the bootstrap is one transaction, "
                        "so nothing was changed")


ACCESS_STACK_STEPS = ("roles", "database-grants")
"""sql/ steps that declare roles and grants: with settings.access_stack the access stack owns them."""

ACCESS_SKIP = "access_stack: roles and grants are managed by Terraform ({stack})"


def _require_access_roles(s: Settings, found: list[str]) -> None:
    """With the access stack, the roles must exist before the bootstrap (it grants to them and sets
    their passwords); it never creates them behind Terraform's back."""
    missing = [r.name for r in roles.model(s).roles if r.name not in found]
    if missing:
        raise ToolkitError(f"access_stack: role(s) {', '.join(missing)} missing; apply the access stack "
                           f"{s.access_stack_id} first (docs/access.md), then rerun the bootstrap; nothing was changed")


def _guard(name: str, fn: Any) -> Step:
    """Run one step; a database error becomes one line naming the step (the steps are idempotent)."""
    try:
        return fn()
    except ToolkitError:
        raise
    except psycopg.OperationalError as exc:
        raise ToolkitError(f"step {name}: connection lost ({db.first_line(exc)}); every step is idempotent: "
                           "run the bootstrap again") from None
    except psycopg.Error as exc:
        raise ToolkitError(f"step {name} failed: {db.first_line(exc)}") from None


@contextmanager
def serialized(target: db.Target, s: Settings) -> Iterator[None]:
    """The bootstrap's lock on ``target`` (db_name) for the whole ``with`` block, held by a session of its
    own whose transaction stays open: free, taken at once; held by another bootstrap, waited for up to
    ``bootstrap_wait_s`` while the holder is named, then one line naming it. The session changes
    nothing (its transaction is rolled back); ending it, killed or not, releases the lock."""
    values = _lock_values(s)
    with db.connect(target, s, application_name=APP_NAME) as lock:
        try:
            _guard("lock", lambda: _lock_table(lock, values))
            _guard("lock", lambda: _take(lock, s, values))
            yield
        finally:
            try:
                lock.rollback()
            except psycopg.Error:
                pass  # gone already: so is its lock


def _lock_values(s: Settings) -> dict[str, sql.Composable]:
    table = sql.Identifier(s.tenancy_schema, LOCK_TABLE)
    wait_ms = max(1, round(s.bootstrap_wait_s * 1000))
    return {"tenancy": sql.Identifier(s.tenancy_schema), "tenancy_schema_name": sql.Literal(s.tenancy_schema),
            "lock_table": table, "lock_table_text": sql.Literal(f"{s.tenancy_schema}.{LOCK_TABLE}"),
            "lock_wait": sql.Literal(f"{wait_ms}ms"), "app_roles": sql.Literal(roles.application_roles(s))}


def _lock_table(lock: psycopg.Connection, values: dict[str, sql.Composable]) -> None:
    """Make the lock table when missing, committed; two first runs racing to make it: the loser retries."""
    for attempt in (1, 2):
        try:
            lock.execute(sqlfiles.named("bootstrap/lock_table", values))
            lock.commit()
            return
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable, psycopg.errors.DuplicateSchema):
            lock.rollback()
            if attempt == 2:
                raise


def _take(lock: psycopg.Connection, s: Settings, values: dict[str, sql.Composable]) -> None:
    lock.execute(sqlfiles.named("bootstrap/lock_session", values))
    try:
        lock.execute(sqlfiles.named("bootstrap/lock_try", values))
        return
    except psycopg.errors.LockNotAvailable:
        lock.rollback()
    table = f"{s.tenancy_schema}.{LOCK_TABLE}"
    print(f"tenantdb: another bootstrap is running on {s.db_name} (it holds {table}); waiting up to "
          f"{s.bootstrap_wait_s:g} s", file=sys.stderr)
    lock.execute(sqlfiles.named("bootstrap/lock_session", values))
    failure: psycopg.Error | None = None
    with locks.Watch.beside(lock, "tenantdb: bootstrap", after_s=min(locks.REPORT_AFTER_S,
                                                                   s.bootstrap_wait_s / 4)) as watch:
        try:
            lock.execute(sqlfiles.named("bootstrap/lock_wait", values))
        except psycopg.Error as exc:
            if not locks.is_lock_wait(exc):
                raise
            failure = exc
    if failure is not None:
        raise ToolkitError(f"another session held the bootstrap's lock {table} for more than {s.bootstrap_wait_s:g} s"
                           f"{watch.explain() or ' (its holder ended before it could be named)'}; nothing was "
                           "changed: rerun once it ends, or end it as the master (pg_terminate_backend(pid))")


# Settings fields that name database objects: {field} is the quoted identifier, {field_name} the literal.
IDENTIFIER_FIELDS = ("db_name", "app_role", "migrator_role", "platform_admin_role", "tenancy_schema",
                     "master_username")


def placeholders(s: Settings) -> dict[str, sql.Composable]:
    """Every value sql/ may use, from the settings: identifiers quoted, the rest as literals.

    ``{db_name}``/``{db_name_name}`` (identifier/literal) for each of IDENTIFIER_FIELDS,
    ``{tenancy}`` for the toolkit's schema, and ``{field}`` as a literal for every other
    scalar setting (``{tenant_setting}``, ``{app_create_on_database}``, ...).
    """
    values: dict[str, sql.Composable] = {}
    for name, value in s.model_dump().items():
        if isinstance(value, (str, bool, int, float)) and name not in IDENTIFIER_FIELDS:
            values[name] = sql.Literal(value)
    for name in IDENTIFIER_FIELDS:
        values[name] = sql.Identifier(getattr(s, name))
        values[f"{name}_name"] = sql.Literal(getattr(s, name))
    values["tenancy"] = sql.Identifier(s.tenancy_schema)
    # text arrays: the roles that may carry no hooks, and the built-in roles they may not hold
    values["app_roles"] = sql.Literal(roles.application_roles(s))
    values["powerful"] = sql.Literal(list(roles.POWERFUL_ROLES))
    app = roles.model(s).app  # app_user's attributes, from the role model only (sql/010_roles.sql)
    values["app_role_create"] = roles.create_sql(app)
    values["app_role_attributes"] = app.attributes_sql(master_changeable=True)
    values.update(extensions.placeholders(s))  # {extensions}: the list settings.extensions names
    return values


def _database_step(admin: psycopg.Connection, s: Settings, exists: bool) -> Step:
    if exists:
        return Step("database", False, f"{s.db_name} exists")
    try:
        admin.execute(sqlfiles.named("bootstrap/create_database", {"db_name": sql.Identifier(s.db_name)}))
    except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):  # made meanwhile by another run
        return Step("database", False, f"{s.db_name} exists")
    except psycopg.Error as exc:
        raise ToolkitError(f"step database: cannot create {s.db_name}: {db.first_line(exc)}") from None
    return Step("database", True, f"created {s.db_name}")


def _step(name: str, s: Settings, before: Any, after: Any) -> Step:
    """What one measured step did, from its fingerprints before and after it."""
    if name in ("tenancy-roles", "object-grants"):
        return _roles_step(name, s, before, after)
    if name == "extensions":  # what is installed, and what the local stand-in lacks and why
        return Step(name, before != after, _extensions_summary(s, after))
    if before != after:
        diff = _diff(before, after)
        detail = f"created: {_summary(name, s, after)}" if diff == "created" else diff or "updated"
        return Step(name, True, detail)
    return Step(name, False, _summary(name, s, after))


def _roles_step(name: str, s: Settings, before: list[dict], after: list[dict]) -> Step:
    if name == "object-grants":
        return Step(name, before != after, f"{len(roles.object_grants(s))} grants on {s.tenancy_schema} functions "
                    "and tables (roles: the access stack)")
    names = ", ".join(r.name for r in roles.model(s).owned_here)
    if before == after:
        return Step(name, False, f"{names} as declared")
    existed = {row["rolname"] for row in before}
    created = [row["rolname"] for row in after if row["rolname"] not in existed]
    return Step(name, True, f"created {', '.join(created)}" if created else f"converged {names}")


def _extensions_summary(s: Settings, state: dict[str, Any]) -> str:
    """As tenantdb.database.bootstrap.extensions.summary, from the step's own fingerprint ("name version, ...")."""
    text = state.get("extensions") or "none"
    have = dict(item.split(" ", 1) for item in text.split(", ")) if text != "none" else {}
    parts = [", ".join(f"{n} {have[n]}" for n in s.extensions if n in have) + " installed" if have
             else "no extensions wanted" if not s.extensions else "none installed"]
    parts += [f"{n} skipped: {why}" for n, why in extensions.missing_on_standin(s, have).items()]
    return "; ".join(parts)


_ATTRIBUTES = (("login", "LOGIN"), ("superuser", "SUPERUSER"), ("bypassrls", "BYPASSRLS"),
               ("createdb", "CREATEDB"), ("createrole", "CREATEROLE"))
"""app_user's attributes as the roles step's fingerprint read them (010_roles.state.sql)."""


def _summary(name: str, s: Settings, fp: dict[str, Any]) -> str:
    """What the step's fingerprint read, for people: never a fixed claim."""
    if name == "roles":
        return f"{s.app_role}: " + " ".join(("" if fp.get(k) else "NO") + word for k, word in _ATTRIBUTES)
    template = _SUMMARY.get(name, "as declared")
    return template.format_map({**fp, "app": s.app_role, "db": s.db_name, "schema": s.tenancy_schema,
                                "grants": fp.get("grants_on_database", "")})


def _superuser_checks(conn: psycopg.Connection, s: Settings, found: batch.Probe) -> dict[str, sql.Composable]:
    """SUPERUSER/BYPASSRLS/REPLICATION, from the probe: app_user's are removed by a superuser master
    (the statement runs in the batch, before the roles step); otherwise stop, changing nothing, and
    say who must run what. The same for the roles the tenancy-roles step converges."""
    live = {r["rolname"]: r for r in found.superuser_only}
    app = live.get(s.app_role)
    bad = [w for col, w in roles.SUPERUSER_ONLY.items() if app and app[col]]
    fixes = roles.superuser_only_fixes(s, list(live.values())) if not s.access_stack else []
    if fixes and not found.master_is_superuser:
        raise ToolkitError(f"a role holds an attribute only a superuser can remove (PostgreSQL 15); a superuser "
                           f"must run: {'; '.join(f.as_string(conn) for f in fixes)}; on RDS, where there is none, "
                           "drop the role and rerun the bootstrap to recreate it; nothing was changed")
    if not bad:
        return {"tenancy-roles": sql.SQL(";\n").join(fixes)} if fixes else {}
    fix = sqlfiles.named("bootstrap/strip_app_role", {
        "app_role": sql.Identifier(s.app_role), "attributes": sql.SQL(" ").join(sql.SQL("NO" + a) for a in bad)})
    if found.master_is_superuser:
        return {"roles": fix, **({"tenancy-roles": sql.SQL(";\n").join(fixes)} if fixes else {})}
    raise ToolkitError(
        f"{s.app_role} has {', '.join(bad)}, which only a superuser can remove (PostgreSQL 15); "
        f"a superuser must run: {sqlfiles.one_line(fix, conn)}; where no superuser exists (RDS), reassign and drop "
        f"{s.app_role}'s objects, DROP ROLE {sql.Identifier(s.app_role).as_string(conn)}, and rerun the "
        "bootstrap to recreate it; nothing was changed on the role")
