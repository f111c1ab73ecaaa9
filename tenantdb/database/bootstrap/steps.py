"""`tenantdb bootstrap`: converge the database to what sql/ declares, and fill the connection secret.

Order (fixed): the database (created when missing; CREATE DATABASE cannot
run in a transaction), then each ``sql/NNN_*.sql`` file in name order and the
role model's tenancy-roles step, all in ONE transaction sent as one
multi-statement query (tenantdb.database.bootstrap.batch): the bootstrap is
atomic. The password steps (app_user's reported right after the roles file)
and the context-key step follow, once the roles are committed. The whole run,
after the database step, holds the bootstrap's lock
(tenantdb.database.bootstrap.lock), so two bootstraps never interleave.

The role model (tenantdb.database.bootstrap.roles) is built once per run and
every step reads that one.

"Changed" is measured, not assumed: before and after each step one catalog
query takes the step's fingerprint (role attributes, explicit grants,
extension version, schema and function definitions); a step changed when its
fingerprint did, and its detail tells what the fingerprint read
(tenantdb.database.bootstrap.outcome). A run records what it left; a rerun
that finds exactly that (one probe) runs no step and reports nothing changed.

No password is ever printed or logged: app_user's is set as a SCRAM verifier
computed in tenantdb.database.bootstrap.app_secrets, and written only to the secrets.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from tenantdb.database.bootstrap import app_secrets
from tenantdb.database.bootstrap import batch
from tenantdb.database.bootstrap import extensions
from tenantdb.database.bootstrap import roles
from tenantdb.database.bootstrap.lock import APP_NAME, serialized
from tenantdb.database.bootstrap.outcome import Result, Step, guard, measured
from tenantdb.database.plumbing import connection as db
from tenantdb.database.plumbing import locks
from tenantdb.database.plumbing import sqlfiles
from tenantdb.database.plumbing.master import MasterTarget, resolve_master
from tenantdb.database.tenancy import context_key
from tenantdb.errors import ToolkitError
from tenantdb.settings import Settings

ACCESS_STACK_STEPS = ("roles", "database-grants")
"""sql/ steps that declare roles and grants: with settings.access_stack the access stack owns them."""

ACCESS_SKIP = "access_stack: roles and grants are managed by Terraform ({stack})"


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
    model = roles.model(s)
    app_secrets.refuse_if_rotating(mt, model.roles)  # a rotation owns the passwords until it finishes
    result = _database(mt, s, model)
    target = mt.target.with_db(s.db_name)
    with serialized(target, s, model.names), db.connect(target, s, autocommit=True, application_name=APP_NAME) as conn:
        for step in guard("probe", lambda: _sql_steps(conn, s, model)):
            result.steps.append(step)
            if step.name == "roles":  # app_user's password, told beside its role
                result.steps.append(_password("app-password", conn, s, mt, endpoint, rotate_app_password, model.app))
        result.steps.append(_password("migrator-password", conn, s, mt, endpoint, False, model.migrator))
        result.steps.append(guard("context-key", lambda: Step("context-key", *context_key.converge(
            conn, s, mt, rotate=rotate_context_key))))  # signed tenant context (docs/tenant-context.md)
    return result


def _database(mt: MasterTarget, s: Settings, model: roles.RoleModel) -> Result:
    """On the admin database, one round trip (TLS, whether the database exists, which declared roles
    exist), then the database step. Before the lock, which lives in the database: two first runs may
    both try; one is told it exists."""
    with db.connect(mt.target, s, autocommit=True, application_name=APP_NAME) as admin:
        head = db.fetch_one_dict(admin, sqlfiles.named("bootstrap/admin", {
            "db_name_name": sql.Literal(s.db_name), "role_names": sql.Literal(model.names)})) or {}
        result = Result(s.environment, mt.target.describe(), f"TLS {head['tls_version']}" if head["tls"] else "NO TLS")
        if s.access_stack:
            _require_access_roles(s, model, head["roles_found"])  # pg_roles is cluster-wide
        result.steps.append(_database_step(admin, s.db_name, head["db_exists"]))
    return result


def _require_access_roles(s: Settings, model: roles.RoleModel, found: list[str]) -> None:
    """With the access stack, the roles must exist before the bootstrap (it grants to them and sets
    their passwords); it never creates them behind Terraform's back."""
    missing = [name for name in model.names if name not in found]
    if missing:
        raise ToolkitError(f"access_stack: role(s) {', '.join(missing)} missing; apply the access stack "
                           f"{s.access_stack_id} first (docs/access.md), then rerun the bootstrap; nothing was changed")


def _database_step(admin: psycopg.Connection, db_name: str, exists: bool) -> Step:
    if exists:
        return Step("database", False, f"{db_name} exists")
    try:
        admin.execute(sqlfiles.named("bootstrap/create_database", {"db_name": sql.Identifier(db_name)}))
    except (psycopg.errors.DuplicateDatabase, psycopg.errors.UniqueViolation):  # made meanwhile by another run
        return Step("database", False, f"{db_name} exists")
    except psycopg.Error as exc:
        raise ToolkitError(f"step database: cannot create {db_name}: {db.first_line(exc)}") from None
    return Step("database", True, f"created {db_name}")


def _sql_steps(conn: psycopg.Connection, s: Settings, model: roles.RoleModel) -> list[Step]:
    """Probe; when something would change, run the batch. Every sql/ step and the role model's, in order."""
    values = _placeholders(s, model)
    units, skipped = _units(s, model, values)
    found = batch.probe(conn, s, units, model.names, values)
    before_step = _superuser_checks(conn, s, model, found)
    states = _measure(conn, s, model, units, values, found, before_step)
    steps = {u.name: measured(u.name, s, model, *states[u.name]) for u in units}
    steps.update({st.name: st for st in skipped})
    order = [sqlfiles.step_name(p) for p in sqlfiles.files()] + ["tenancy-roles", "object-grants"]
    return [steps[n] for n in order if n in steps]


def _units(s: Settings, model: roles.RoleModel, values: dict[str, sql.Composable]
           ) -> tuple[list[batch.Unit], list[Step]]:
    """The measured steps of the batch, and the steps the access stack owns (reported as skipped)."""
    units, skipped = [], []
    for path in sqlfiles.files():
        name = sqlfiles.step_name(path)
        if s.access_stack and name in ACCESS_STACK_STEPS:
            skipped.append(Step(name, False, ACCESS_SKIP.format(stack=s.access_stack_id), skipped=True))
        else:
            units.append(batch.Unit(name, batch.state_query(path, values), sqlfiles.load(path, values)))
    # The role model's step, measured by its own query; with the access stack, only the grants on
    # the objects the bootstrap makes (the roles are Terraform's).
    if s.access_stack:
        units.append(batch.Unit("object-grants", model.fingerprint_sql(), model.object_grants_script(),
                                many_rows=True))
        skipped.append(Step("tenancy-roles", False, ACCESS_SKIP.format(stack=s.access_stack_id), skipped=True))
    else:
        units.append(batch.Unit("tenancy-roles", model.fingerprint_sql(), model.script(), many_rows=True))
    return units, skipped


def _measure(conn: psycopg.Connection, s: Settings, model: roles.RoleModel, units: list[batch.Unit],
             values: dict[str, sql.Composable], found: batch.Probe, before_step: dict[str, sql.Composable]
             ) -> dict[str, tuple[Any, Any]]:
    """name -> (fingerprint before, after): the probe's, when it proved nothing would change; else the batch's."""
    if found.up_to_date and not before_step:
        return {u.name: (found.states[u.name], found.states[u.name]) for u in units}
    look = min(locks.REPORT_AFTER_S, s.toolkit_lock_timeout_s / 4)  # well before a wait gives up
    with locks.Watch.beside(conn, "tenantdb: bootstrap", after_s=look, every_s=look) as watch:
        try:
            return batch.run(conn, s, units, model.names, values, before_step)
        except batch.BatchError as exc:
            failure = exc
    raise _batch_failure(failure, watch.explain()) from None


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


def _superuser_checks(conn: psycopg.Connection, s: Settings, model: roles.RoleModel,
                      found: batch.Probe) -> dict[str, sql.Composable]:
    """SUPERUSER/BYPASSRLS/REPLICATION, from the probe: app_user's are removed by a superuser master
    (the statement runs in the batch, before the roles step); otherwise stop, changing nothing, and
    say who must run what. The same for the roles the tenancy-roles step converges."""
    live = {r["rolname"]: r for r in found.superuser_only}
    app = live.get(s.app_role)
    bad = [w for col, w in roles.SUPERUSER_ONLY.items() if app and app[col]]
    fixes = model.superuser_only_fixes(list(live.values())) if not s.access_stack else []
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


def _password(name: str, conn: psycopg.Connection, s: Settings, mt: MasterTarget, endpoint: str | None,
              rotate: bool, login: roles.Role) -> Step:
    """Fill ``login``'s secret and make the role log in with the password in it."""
    return guard(name, lambda: Step(name, *app_secrets.password_step(conn, s, mt, endpoint, rotate, login)))


# Settings fields that name database objects: {field} is the quoted identifier, {field_name} the literal.
IDENTIFIER_FIELDS = ("db_name", "app_role", "migrator_role", "platform_admin_role", "tenancy_schema",
                     "master_username")


def placeholders(s: Settings) -> dict[str, sql.Composable]:
    """Every value sql/ may use, from the settings: identifiers quoted, the rest as literals.

    ``{db_name}``/``{db_name_name}`` (identifier/literal) for each of IDENTIFIER_FIELDS,
    ``{tenancy}`` for the toolkit's schema, and ``{field}`` as a literal for every other
    scalar setting (``{tenant_setting}``, ``{app_create_on_database}``, ...).
    """
    return _placeholders(s, roles.model(s))


def _placeholders(s: Settings, model: roles.RoleModel) -> dict[str, sql.Composable]:
    values: dict[str, sql.Composable] = {}
    for name, value in s.model_dump().items():
        if isinstance(value, (str, bool, int, float)) and name not in IDENTIFIER_FIELDS:
            values[name] = sql.Literal(value)
    for name in IDENTIFIER_FIELDS:
        values[name] = sql.Identifier(getattr(s, name))
        values[f"{name}_name"] = sql.Literal(getattr(s, name))
    values["tenancy"] = sql.Identifier(s.tenancy_schema)
    # text arrays: the roles that may carry no hooks (the model's every role), and the built-in roles they may not hold
    values["app_roles"] = sql.Literal(model.names)
    values["powerful"] = sql.Literal(list(roles.POWERFUL_ROLES))
    # app_user's attributes, from the role model only (sql/010_roles.sql)
    values["app_role_create"] = roles.create_sql(model.app)
    values["app_role_attributes"] = model.app.attributes_sql(master_changeable=True)
    values.update(extensions.placeholders(s))  # {extensions}: the list settings.extensions names
    return values


def _fingerprint(conn: psycopg.Connection, step: Any, values: dict[str, sql.Composable]) -> dict[str, Any]:
    """One sql/ step's fingerprint on its own, read now (the batch reads them all inside its transaction)."""
    return db.fetch_one_dict(conn, sqlfiles.load(sqlfiles.state_file(step), values)) or {}
