"""`tenantdb bootstrap`: converge the database to what sql/ declares, and fill the connection secret.

Order (fixed): the database (created when missing; CREATE DATABASE cannot
run in a transaction), then each ``sql/NNN_*.sql`` file in name order, with
app_user's password right after the roles file. Each step runs in its own
transaction; the whole run holds a PostgreSQL advisory lock, so two
bootstraps never interleave (the second waits, then finds nothing to do).

"Changed" is measured, not assumed: before and after each step one catalog
query takes the step's fingerprint (role attributes, explicit grants,
extension version, schema and function definitions); a step changed when its
fingerprint did. A second run therefore reports nothing changed.

No password is ever printed or logged: app_user's is set as a SCRAM verifier
computed here (tenantdb.database.scram), and written only to the connection secret.
"""

from __future__ import annotations

import json
import secrets
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import psycopg
from psycopg import sql

from tenantdb.database import connection as db
from tenantdb.database import roles
from tenantdb.database import sqlfiles
from tenantdb.database.master import MasterTarget, app_address, resolve_master
from tenantdb.errors import ToolkitError
from tenantdb.database.scram import scram_sha256_verifier
from tenantdb.settings import Settings

LOCK_KEY = 0x74656E616E746462
"""pg_advisory_lock key of the bootstrap ("tenantdb" in ASCII)."""

LOCK_WAIT = "10min"
"""How long a second bootstrap waits for the first before giving up."""

PASSWORD_BYTES = 32
"""Random bytes in app_user's password: token_urlsafe(32) is 43 URL-safe characters."""


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
    "roles": "{app}: LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE",
    "database-grants": "{app}: {grants} on {db}; PUBLIC: no CREATE on schema public",
    "extensions": "pg_stat_statements installed",
    "tenancy": "schema {schema} with {schema}.current_tenant_id()",
}


def _fingerprint(conn: psycopg.Connection, step: Any, values: dict[str, sql.Composable]) -> dict[str, Any]:
    return db.fetch_one_dict(conn, sqlfiles.load(sqlfiles.state_file(step), values)) or {}


def _diff(before: dict[str, Any], after: dict[str, Any]) -> str:
    if before.get("exists") is False or before.get("schema") is False:
        return "created"
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
        rotate_app_password: bool = False) -> Result:
    """Converge the database and the connection secret; returns what changed, step by step."""
    mt = resolve_master(s, endpoint=endpoint, master_dsn=master_dsn)
    with db.connect(mt.target, s, autocommit=True, application_name="tenantdb-bootstrap") as admin:
        on, version = db.tls_info(admin)
        result = Result(s.environment, mt.target.describe(), f"TLS {version}" if on else "NO TLS")
        _lock(admin)
        if s.access_stack:
            _require_access_roles(admin, s)  # pg_roles is cluster-wide
        result.steps.append(_database_step(admin, s))
        with db.connect(mt.target.with_db(s.db_name), s, application_name="tenantdb-bootstrap") as conn:
            values = placeholders(s)
            for path in sqlfiles.files():
                name = sqlfiles.step_name(path)
                if s.access_stack and name in ACCESS_STACK_STEPS:
                    result.steps.append(Step(name, False, ACCESS_SKIP.format(stack=s.access_stack_id), skipped=True))
                else:
                    result.steps.append(_guard(name, lambda: _file_step(conn, s, path, name, values)))
                if name == "roles":
                    result.steps.append(_guard("app-password",
                                               lambda: _password_step(conn, s, mt, endpoint, rotate_app_password)))
            # issue 5: the migrator and platform_admin (tenantdb.database.roles), then the migrator's login secret.
            if s.access_stack:
                result.steps.append(Step("tenancy-roles", False, ACCESS_SKIP.format(stack=s.access_stack_id),
                                         skipped=True))
                result.steps.append(_guard("object-grants", lambda: Step(
                    "object-grants", *roles.apply_object_grants(conn, s))))
            else:
                result.steps.append(_guard("tenancy-roles", lambda: Step("tenancy-roles", *roles.apply(conn, s))))
            result.steps.append(_guard("migrator-password", lambda: _password_step(
                conn, s, mt, endpoint, False, s.migrator_role, s.migrator_secret_name, "migrator-password")))
    return result


ACCESS_STACK_STEPS = ("roles", "database-grants")
"""sql/ steps that declare roles and grants: with settings.access_stack the access stack owns them (issue 8)."""

ACCESS_SKIP = "access_stack: roles and grants are managed by Terraform ({stack})"


def _require_access_roles(conn: psycopg.Connection, s: Settings) -> None:
    """With the access stack, the roles must exist before the bootstrap (it grants to them and sets
    their passwords); it never creates them behind Terraform's back."""
    names = [r.name for r in roles.model(s).roles]
    found = {n for (n,) in conn.execute("SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", (names,))}
    missing = [n for n in names if n not in found]
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


def _lock(admin: psycopg.Connection) -> None:
    got = admin.execute("SELECT pg_try_advisory_lock(%s)", (LOCK_KEY,)).fetchone()
    if got and got[0]:
        return
    print("tenantdb: another bootstrap is running on this server; waiting for it to finish", file=sys.stderr)
    admin.execute(sql.SQL("SET lock_timeout = {}").format(sql.Literal(LOCK_WAIT)))
    try:
        admin.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
    except psycopg.errors.LockNotAvailable:
        raise ToolkitError(f"another bootstrap held the lock for more than {LOCK_WAIT}; "
                           "check pg_stat_activity for application_name tenantdb-bootstrap") from None
    admin.execute("RESET lock_timeout")


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
    return values


def _database_step(admin: psycopg.Connection, s: Settings) -> Step:
    if admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (s.db_name,)).fetchone():
        return Step("database", False, f"{s.db_name} exists")
    try:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(s.db_name)))
    except psycopg.errors.DuplicateDatabase:
        return Step("database", False, f"{s.db_name} exists")
    except psycopg.Error as exc:
        raise ToolkitError(f"step database: cannot create {s.db_name}: {db.first_line(exc)}") from None
    return Step("database", True, f"created {s.db_name}")


def _file_step(conn: psycopg.Connection, s: Settings, path: Any, name: str,
               values: dict[str, sql.Composable]) -> Step:
    with conn.transaction():
        before = _fingerprint(conn, path, values)
        if name == "roles":
            _superuser_attributes(conn, s)
        conn.execute(sqlfiles.load(path, values))
        after = _fingerprint(conn, path, values)
    if before != after:
        diff = _diff(before, after)
        detail = f"created: {_summary(name, s, after)}" if diff == "created" else diff or "updated"
        return Step(name, True, detail)
    return Step(name, False, _summary(name, s, after))


def _summary(name: str, s: Settings, fp: dict[str, Any]) -> str:
    template = _SUMMARY.get(name, "as declared")
    return template.format(app=s.app_role, db=s.db_name, schema=s.tenancy_schema,
                           grants=fp.get("grants_on_database", ""))


def _superuser_attributes(conn: psycopg.Connection, s: Settings) -> None:
    """Remove SUPERUSER/BYPASSRLS/REPLICATION from app_user when the master may; else stop and say who must."""
    row = db.fetch_one_dict(conn, """
        SELECT r.rolsuper, r.rolbypassrls, r.rolreplication,
               (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS master_is_superuser
        FROM pg_roles r WHERE r.rolname = %s""", (s.app_role,))
    if not row:
        return
    bad = [attr for attr, col in (("SUPERUSER", "rolsuper"), ("BYPASSRLS", "rolbypassrls"),
                                  ("REPLICATION", "rolreplication")) if row[col]]
    if not bad:
        return
    fix = sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(s.app_role),
                                             sql.SQL(" ").join(sql.SQL("NO" + a) for a in bad))
    if row["master_is_superuser"]:
        conn.execute(fix)
        return
    statement = fix.as_string(conn)
    raise ToolkitError(
        f"{s.app_role} has {', '.join(bad)}, which only a superuser can remove (PostgreSQL 15); "
        f"a superuser must run: {statement}; where no superuser exists (RDS), reassign and drop "
        f"{s.app_role}'s objects, DROP ROLE {sql.Identifier(s.app_role).as_string(conn)}, and rerun the "
        "bootstrap to recreate it; nothing was changed on the role")


# ----- app_user's password and the connection secret --------------------------

def _password_step(conn: psycopg.Connection, s: Settings, mt: MasterTarget, endpoint: str | None,
                   rotate: bool, role: str | None = None, secret: str | None = None,
                   step: str = "app-password") -> Step:
    # role/secret/step default to app_user's; the migrator's login reuses this step (issue 5).
    role, secret = role or s.app_role, secret or s.connection_secret_name
    if not mt.via_aws or mt.aws is None:
        return Step(step, False, "--master-dsn: no connection secret to write to; "
                    f"{role}'s password left as it is (a new {role} has none)", skipped=True)
    aws, name = mt.aws, secret
    address = mt.instance_address
    if not address or not address[0]:
        raise ToolkitError(f"instance {s.instance_identifier} has no endpoint address for the connection secret")
    existing = aws.secret_json(name) if aws.secret_has_value(name) else {}
    kept = existing.get("password") if isinstance(existing.get("password"), str) and not rotate else None
    password = kept or secrets.token_urlsafe(PASSWORD_BYTES)
    value = secret_value(s, address[0], password, role)
    done: list[str] = []
    if value != existing:
        aws.put_secret_json(name, value)  # first: a crash before ALTER ROLE is repaired by the next run
        done.append(f"secret {name} written")
    if not kept:
        _set_password(conn, s, password, role)
        done.append(f"{'rotated' if rotate else 'generated'} {role}'s password")
    elif not _can_log_in(s, mt, endpoint, password, role):
        _set_password(conn, s, password, role)
        done.append(f"{role}'s password reset to the secret's")
    if done:
        return Step(step, True, "; ".join(done))
    return Step(step, False, f"{role} logs in with the password in {name}")


def secret_value(s: Settings, host: str, password: str, role: str | None = None) -> dict[str, Any]:
    """The connection secret: the keys AWS's RDS rotation functions read, plus the story's ``database`` and ``uri``."""
    role = role or s.app_role
    uri = (f"postgresql://{quote(role, safe='')}:{quote(password, safe='')}@{host}:{s.port}/"
           f"{quote(s.db_name, safe='')}?sslmode=require")
    return {"engine": "postgres", "host": host, "port": s.port, "dbname": s.db_name, "database": s.db_name,
            "username": role, "password": password, "uri": uri}


def _set_password(conn: psycopg.Connection, s: Settings, password: str, role: str | None = None) -> None:
    with conn.transaction():
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            sql.Identifier(role or s.app_role), sql.Literal(scram_sha256_verifier(password))))


def _can_log_in(s: Settings, mt: MasterTarget, endpoint: str | None, password: str,
                role: str | None = None) -> bool:
    host, port = mt.instance_address or (mt.target.host, mt.target.port)
    host, port = app_address(s, endpoint, host, port)
    target = mt.target.with_address(host, port).with_login(role or s.app_role, password).with_db(s.db_name)
    try:
        with db.connect(target, s, application_name="tenantdb-bootstrap"):
            return True
    except db.AuthError:
        return False
