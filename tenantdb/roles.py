"""One role model for the database's roles, rendered to SQL here (and, in
issue 8, to the Terraform access stack), so the two cannot disagree.

A :class:`Role` is what a DBA would write on a card: its attributes, the
privileges it holds on the database and the toolkit's schema, who is a member
of it. :func:`model` builds the cards from the settings; :func:`tenant_schema`
says what every tenant schema grants. Nothing here connects to a database.

The master user is written :data:`MASTER`: its name is only known at run time
(settings.master_username on RDS, whoever ``--master-dsn`` names otherwise).
SQL renders it as ``CURRENT_USER`` (the bootstrap runs as the master); a
Terraform renderer would use the provider's username.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from tenantdb.settings import Settings

MASTER = "@master"
"""Stand-in for the master user's name (CURRENT_USER when rendered to SQL)."""

TABLE_DML = ("SELECT", "INSERT", "UPDATE", "DELETE")
"""What app_user gets on tenant tables, and nothing else: no TRUNCATE (it ignores
row security), no REFERENCES (a foreign key probes other tenants' keys), no TRIGGER."""


@dataclass(frozen=True)
class Grant:
    """Privileges on one object. ``object_type`` follows the Terraform postgresql
    provider's names (database, schema, table, sequence, function)."""

    object_type: str
    privileges: tuple[str, ...]
    schema: str | None = None
    objects: tuple[str, ...] = ()
    """Table or function signatures in ``schema``; empty means the database/schema itself."""


@dataclass(frozen=True)
class DefaultPrivilege:
    """ALTER DEFAULT PRIVILEGES FOR ROLE ``owner`` IN SCHEMA ``schema`` ... TO ``grantee``."""

    grantee: str
    owner: str
    schema: str
    object_type: str  # "table" or "sequence"
    privileges: tuple[str, ...]


@dataclass(frozen=True)
class Role:
    """A role's declared state. Attributes not listed are the safe PostgreSQL defaults."""

    name: str
    purpose: str
    login: bool
    superuser: bool = False
    bypassrls: bool = False
    createdb: bool = False
    createrole: bool = False
    replication: bool = False
    inherit: bool = True
    grants: tuple[Grant, ...] = ()
    members: tuple[str, ...] = ()
    """Roles granted this role (MASTER for the master user)."""
    password_secret: str | None = None
    """Secrets Manager secret holding its login, when it has one."""

    def attributes_sql(self) -> sql.Composable:
        """``LOGIN NOSUPERUSER ...``: every attribute spelled out, so ALTER ROLE converges."""
        words = [
            "LOGIN" if self.login else "NOLOGIN",
            "SUPERUSER" if self.superuser else "NOSUPERUSER",
            "BYPASSRLS" if self.bypassrls else "NOBYPASSRLS",
            "CREATEDB" if self.createdb else "NOCREATEDB",
            "CREATEROLE" if self.createrole else "NOCREATEROLE",
            "REPLICATION" if self.replication else "NOREPLICATION",
            "INHERIT" if self.inherit else "NOINHERIT",
        ]
        return sql.SQL(" ".join(words))


@dataclass(frozen=True)
class RoleModel:
    app: Role
    migrator: Role
    platform_admin: Role
    extra: tuple[Role, ...] = field(default=())

    @property
    def roles(self) -> tuple[Role, ...]:
        return (self.app, self.migrator, self.platform_admin, *self.extra)

    @property
    def owned_here(self) -> tuple[Role, ...]:
        """The roles this issue's bootstrap step converges (app_user is the AC8 step's)."""
        return (self.migrator, self.platform_admin)


def model(s: Settings) -> RoleModel:
    """The declared roles for one environment."""
    ts = s.tenancy_schema
    app_db = ("CONNECT", "TEMPORARY", "CREATE") if s.app_create_on_database else ("CONNECT", "TEMPORARY")
    app = Role(
        name=s.app_role, login=True, password_secret=s.connection_secret_name,
        purpose="the application's runtime role: DML on tenant tables under row security (AC8)",
        grants=(Grant("database", app_db),
                Grant("schema", ("USAGE",), ts),
                Grant("function", ("EXECUTE",), ts, ("current_tenant_id()",))),
    )
    migrator = Role(
        name=s.migrator_role, login=True, password_secret=s.migrator_secret_name,
        purpose="owns tenant schemas and tables; the application's migrations run as it",
        grants=(Grant("database", ("CONNECT", "TEMPORARY")),
                Grant("schema", ("USAGE",), ts),
                Grant("function", ("EXECUTE",), ts, ("current_tenant_id()", "enable_isolation(regclass)"))),
        # The master creates tenant schemas owned by the migrator and sets default
        # privileges FOR ROLE migrator: PostgreSQL requires membership for both.
        members=(MASTER,),
    )
    admin = Role(
        name=s.platform_admin_role, login=False,
        purpose="platform operations across tenants through explicit permissive policies (no BYPASSRLS)",
        grants=(Grant("database", ("CONNECT",)),
                Grant("schema", ("USAGE",), ts),
                Grant("table", ("SELECT",), ts, ("tenants",)),
                Grant("function", ("EXECUTE",), ts, ("current_tenant_id()",))),
        members=tuple(s.platform_admin_members),
    )
    return RoleModel(app=app, migrator=migrator, platform_admin=admin)


def tenant_schema(s: Settings, schema: str) -> tuple[tuple[tuple[str, Grant], ...], tuple[DefaultPrivilege, ...]]:
    """What one tenant schema grants, as (grantee, grant) pairs and default privileges:
    USAGE for app_user and platform_admin, and DML on every table the migrator
    creates there (USAGE, SELECT on its sequences, for serial columns)."""
    grantees = (s.app_role, s.platform_admin_role)
    grants = tuple((g, Grant("schema", ("USAGE",), schema)) for g in grantees)
    defaults = tuple(
        DefaultPrivilege(g, s.migrator_role, schema, kind, privs)
        for g in grantees
        for kind, privs in (("table", TABLE_DML), ("sequence", ("USAGE", "SELECT"))))
    return grants, defaults


# ----- SQL rendering ---------------------------------------------------------

def _role_ident(name: str) -> sql.Composable:
    return sql.SQL("CURRENT_USER") if name == MASTER else sql.Identifier(name)


def _grant_sql(g: Grant, grantee: str, database: str) -> sql.Composable:
    privs = sql.SQL(", ").join(sql.SQL(p) for p in g.privileges)
    to = sql.Identifier(grantee)
    if g.object_type == "database":
        return sql.SQL("GRANT {} ON DATABASE {} TO {}").format(privs, sql.Identifier(database), to)
    if g.object_type == "schema":
        return sql.SQL("GRANT {} ON SCHEMA {} TO {}").format(privs, sql.Identifier(g.schema), to)
    if g.object_type == "table":
        objs = sql.SQL(", ").join(sql.Identifier(g.schema, o) for o in g.objects)
        return sql.SQL("GRANT {} ON TABLE {} TO {}").format(privs, objs, to)
    if g.object_type == "function":
        objs = sql.SQL(", ").join(_function_ref(g.schema, o) for o in g.objects)
        return sql.SQL("GRANT {} ON FUNCTION {} TO {}").format(privs, objs, to)
    raise ValueError(f"grant object_type {g.object_type!r}: not rendered to SQL")


def _function_ref(schema: str | None, signature: str) -> sql.Composable:
    name, _, args = signature.partition("(")
    # Argument types are fixed type names from this module, never input.
    return sql.SQL("{}({}").format(sql.Identifier(schema, name), sql.SQL(args))


def create_sql(role: Role) -> sql.Composable:
    """CREATE ROLE with the declared attributes (run only when the role is missing)."""
    return sql.SQL("CREATE ROLE {} {}").format(sql.Identifier(role.name), role.attributes_sql())


def converge_sql(role: Role, database: str) -> list[sql.Composable]:
    """Statements that enforce the declared attributes, grants and memberships on an
    existing role. Each is idempotent; run in one transaction."""
    out: list[sql.Composable] = [
        sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(role.name), role.attributes_sql())]
    out += [_grant_sql(g, role.name, database) for g in role.grants]
    out += [sql.SQL("GRANT {} TO {}").format(sql.Identifier(role.name), _role_ident(m)) for m in role.members]
    return out


def tenant_schema_sql(s: Settings, schema: str) -> list[sql.Composable]:
    """CREATE SCHEMA owned by the migrator, USAGE and default privileges (tenant create)."""
    grants, defaults = tenant_schema(s, schema)
    out: list[sql.Composable] = [sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
        sql.Identifier(schema), sql.Identifier(s.migrator_role))]
    out += [_grant_sql(g, grantee, s.db_name) for grantee, g in grants]
    for d in defaults:
        kind = sql.SQL("TABLES" if d.object_type == "table" else "SEQUENCES")
        out.append(sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {} IN SCHEMA {} GRANT {} ON {} TO {}").format(
            sql.Identifier(d.owner), sql.Identifier(d.schema),
            sql.SQL(", ").join(sql.SQL(p) for p in d.privileges), kind, sql.Identifier(d.grantee)))
    return out
