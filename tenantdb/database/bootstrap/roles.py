"""One role model for the database's roles, rendered to SQL here and to Terraform by the
access stack (stacks/access.py), so the two cannot disagree.

A :class:`Role` is what a DBA would write on a card: its attributes, the
privileges it holds on the database and the toolkit's schema, who is a member
of it, the secret it logs in with. :func:`model` builds the cards from the
settings, once per bootstrap; the :class:`RoleModel` renders the bootstrap's
role steps and their fingerprint. :func:`tenant_schema` says what every tenant
schema grants. Nothing here connects to a database.

The master user is written :data:`MASTER`: its name is only known at run time
(settings.master_username on RDS, whoever ``--master-dsn`` names otherwise).
SQL renders it as ``CURRENT_USER`` (the bootstrap runs as the master); a
Terraform renderer would use the provider's username.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg import sql

from tenantdb.database.plumbing import sqlfiles
from tenantdb.settings import Settings

MASTER = "@master"
"""Stand-in for the master user's name (CURRENT_USER when rendered to SQL)."""

POWERFUL_ROLES = ("pg_execute_server_program", "pg_read_server_files", "pg_write_server_files",
                  "pg_read_all_data", "pg_write_all_data", "pg_signal_backend", "pg_read_all_stats",
                  "pg_read_all_settings", "pg_stat_scan_tables", "pg_monitor", "pg_checkpoint",
                  "pg_create_subscription", "pg_use_reserved_connections",
                  "rds_superuser", "rds_replication", "rds_password")
"""Built-in roles that grant server-side power (files, programs, every table, other sessions,
every statement's text): no application role may hold one (ISO-BUILTIN-ROLES; the bootstrap's
no-hooks step revokes what the master may)."""

APP_SEQUENCE: tuple[str, ...] = ()
"""app_user on tenant sequences: nothing. USAGE would let any tenant's session nextval() another
tenant's identity to its end; identity columns need no privilege on their sequence for INSERT, so
tenant tables use them (a serial column fails the tenant's migration)."""

BOUND_TENANT = "bound_tenant(uuid, name, bytea)"
"""The tenant-schema policy's helper (sql/060_enable_isolation.sql): every role a tenant policy
applies to must be able to run it, or its reads fail."""

VERSION_TABLE = "alembic_version"
"""Alembic's version table in every tenant schema: the toolkit's bookkeeping (no tenant_id, never
isolated); app_user holds nothing on it, platform_admin SELECT at most (`tenantdb migrate`)."""

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
    columns: tuple[str, ...] = ()
    """object_type "column": the privileges hold on these columns of each table in ``objects``."""


@dataclass(frozen=True)
class DefaultPrivilege:
    """ALTER DEFAULT PRIVILEGES FOR ROLE ``owner`` IN SCHEMA ``schema`` ... TO ``grantee``."""

    grantee: str
    owner: str
    schema: str | None
    """None: in every schema (the only form PostgreSQL allows for object_type "schema")."""
    object_type: str  # "table", "sequence" or "schema"
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
    defaults: tuple[DefaultPrivilege, ...] = ()
    """Default privileges granted to this role (the reporting role's)."""

    def attributes(self) -> dict[str, bool]:
        """pg_roles column -> declared value."""
        return {"rolcanlogin": self.login, "rolsuper": self.superuser, "rolbypassrls": self.bypassrls,
                "rolcreatedb": self.createdb, "rolcreaterole": self.createrole,
                "rolreplication": self.replication, "rolinherit": self.inherit}

    def attributes_sql(self, master_changeable: bool = False) -> sql.Composable:
        """``LOGIN NOSUPERUSER ...``, every attribute spelled out so the statement converges.

        ``master_changeable`` leaves out SUPERUSER, BYPASSRLS and REPLICATION: on
        PostgreSQL 15 even naming them in ALTER ROLE needs a superuser, which the
        RDS master is not (checked separately, see :meth:`RoleModel.superuser_only_fixes`).
        """
        words = [("LOGIN", self.login), ("CREATEDB", self.createdb), ("CREATEROLE", self.createrole),
                 ("INHERIT", self.inherit)]
        if not master_changeable:
            words += [("SUPERUSER", self.superuser), ("BYPASSRLS", self.bypassrls),
                      ("REPLICATION", self.replication)]
        return sql.SQL(" ".join(w if on else "NO" + w for w, on in words))


SUPERUSER_ONLY = {"rolsuper": "SUPERUSER", "rolbypassrls": "BYPASSRLS", "rolreplication": "REPLICATION"}
"""Attributes only a superuser may change on PostgreSQL 15."""


@dataclass(frozen=True)
class RoleModel:
    """The declared roles of one environment, and the database and toolkit's schema their grants name.
    Built once from the settings (:func:`model`); everything below renders it."""

    database: str
    schema: str
    app: Role
    migrator: Role
    platform_admin: Role
    extra: tuple[Role, ...] = field(default=())

    @property
    def roles(self) -> tuple[Role, ...]:
        return (self.app, self.migrator, self.platform_admin, *self.extra)

    @property
    def names(self) -> list[str]:
        return [r.name for r in self.roles]

    @property
    def owned_here(self) -> tuple[Role, ...]:
        """The roles the tenancy-roles step converges (app_user is the roles step's, sql/010_roles.sql)."""
        return (self.migrator, self.platform_admin, *self.extra)

    def object_grants(self) -> list[tuple[str, Grant]]:
        """(grantee, grant) on objects the bootstrap creates: what it still grants when the access stack
        manages the roles."""
        return [(r.name, g) for r in self.roles for g in r.grants if g.object_type not in TERRAFORM_GRANTS]

    def script(self) -> sql.Composed:
        """The tenancy-roles step as one SQL script: create what is missing, then enforce attributes,
        grants and memberships of the roles converged here."""
        statements: list[sql.Composable] = []
        for role in self.owned_here:
            statements.append(_create_if_missing_sql(role))
            statements += converge_sql(role, self.database)
        statements.append(_revoke_undeclared_members_sql(self.platform_admin))
        return _script(statements)

    def object_grants_script(self) -> sql.Composed:
        """The access stack's bootstrap step (:meth:`object_grants`) as one SQL script."""
        return _script([_grant_sql(g, grantee, self.database) for grantee, g in self.object_grants()])

    def fingerprint_sql(self) -> sql.Composed:
        """The declared roles' live state as one catalog query without bind parameters (the bootstrap
        sends it inside a multi-statement string). Works before the toolkit's schema exists."""
        return sqlfiles.named("bootstrap/role_fingerprint",
                             {"schema": sql.Literal(self.schema), "roles": sql.Literal(self.names)})

    def superuser_only_fixes(self, live: list[dict]) -> list[sql.Composable]:
        """From pg_roles rows (rolname, rolsuper, rolbypassrls, rolreplication) of the roles converged
        here: the statements a superuser must run to bring SUPERUSER/BYPASSRLS/REPLICATION back."""
        declared = {r.name: r.attributes() for r in self.owned_here}
        fixes: list[sql.Composable] = []
        for row in (r for r in live if r["rolname"] in declared):
            want = declared[row["rolname"]]
            wrong = [(c, w) for c, w in SUPERUSER_ONLY.items() if row[c] != want[c]]
            if wrong:
                words = " ".join(w if want[c] else "NO" + w for c, w in wrong)
                fixes.append(sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(row["rolname"]), sql.SQL(words)))
        return fixes


def model(s: Settings) -> RoleModel:
    """The declared roles for one environment."""
    ts = s.tenancy_schema
    app_db = ("CONNECT", "TEMPORARY", "CREATE") if s.app_create_on_database else ("CONNECT", "TEMPORARY")
    app = Role(
        name=s.app_role, login=True, password_secret=s.connection_secret_name,
        # sql/010_roles.sql: the master may SET ROLE app_user (the verifier's probe without its password).
        members=(MASTER,),
        purpose="the application's runtime role: DML on tenant tables under row security (AC8)",
        grants=(Grant("database", app_db),
                Grant("schema", ("USAGE",), ts),
                Grant("function", ("EXECUTE",), ts, ("current_tenant_id()", "set_tenant(text)", BOUND_TENANT))),
    )
    migrator = Role(
        name=s.migrator_role, login=True, password_secret=s.migrator_secret_name,
        purpose="owns tenant schemas and tables; the application's migrations run as it",
        grants=(Grant("database", ("CONNECT", "TEMPORARY")),
                Grant("schema", ("USAGE",), ts),
                Grant("table", ("SELECT",), ts, ("tenants",)),  # tenantdb migrate: which tenants, their ids
                # migrate records each tenant's revisions, and locks its row (FOR UPDATE needs UPDATE)
                Grant("column", ("UPDATE",), ts, ("tenants",), ("revisions",)),
                Grant("function", ("EXECUTE",), ts,
                      ("current_tenant_id()", BOUND_TENANT, "enable_isolation(regclass)", "migration_context(uuid)"))),
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
                Grant("function", ("EXECUTE",), ts, ("current_tenant_id()", BOUND_TENANT))),
        members=tuple(s.platform_admin_members),
    )
    return RoleModel(database=s.db_name, schema=ts, app=app, migrator=migrator, platform_admin=admin,
                     extra=(reporting(s),))


def application_roles(s: Settings) -> list[str]:
    """The roles whose sessions carry tenant data or its schema, the model's every role: no per-role
    settings and no powerful built-in role on any of them."""
    return model(s).names


def reporting(s: Settings) -> Role:
    """Read-only reporting: SELECT on what the migrator creates, in every schema,
    through default privileges, so tenant schemas made later are covered without a grant per tenant.
    NOLOGIN (no password to keep); reporting logins are granted it. Row security still applies:
    it reads one tenant at a time, like app_user; cross-tenant reads are platform_admin's path."""
    m = s.migrator_role
    return Role(
        name=s.reporting_role, login=False,
        purpose="read-only reporting: SELECT on tenant tables and sequences, under row security",
        # The tenant policy calls tenancy.current_tenant_id(): without these, every read would fail.
        grants=(Grant("database", ("CONNECT",)),
                Grant("schema", ("USAGE",), s.tenancy_schema),
                Grant("function", ("EXECUTE",), s.tenancy_schema, ("current_tenant_id()", BOUND_TENANT))),
        defaults=(DefaultPrivilege(s.reporting_role, m, None, "schema", ("USAGE",)),
                  DefaultPrivilege(s.reporting_role, m, None, "table", ("SELECT",)),
                  DefaultPrivilege(s.reporting_role, m, None, "sequence", ("SELECT",))),
    )


PUBLIC_ON_SCHEMA_PUBLIC = Grant("schema", ("USAGE",), "public")
"""What PUBLIC keeps on schema public: USAGE, never CREATE (sql/020_database_grants.sql)."""

TERRAFORM_GRANTS = ("database", "schema")
"""Grant kinds the access stack manages. Grants on objects inside the toolkit's schema
(functions, the registry) stay with the bootstrap, which creates those objects: a grant can only
follow its object, and sql/ sets each object's privileges with its definition."""


def tenant_schema(s: Settings, schema: str) -> tuple[tuple[tuple[str, Grant], ...], tuple[DefaultPrivilege, ...]]:
    """What one tenant schema grants, as (grantee, grant) pairs and default privileges:
    USAGE for app_user and platform_admin, and DML on every table the migrator
    creates there. On its sequences app_user gets nothing (:data:`APP_SEQUENCE`);
    platform_admin reads across tenants anyway and keeps USAGE, SELECT. `tenantdb
    migrate` then takes every privilege on the version table from app_user."""
    grantees = (s.app_role, s.platform_admin_role)
    grants = tuple((g, Grant("schema", ("USAGE",), schema)) for g in grantees)
    sequence = {s.app_role: APP_SEQUENCE, s.platform_admin_role: ("USAGE", "SELECT")}
    defaults = tuple(
        DefaultPrivilege(g, s.migrator_role, schema, kind, privs)
        for g in grantees
        for kind, privs in (("table", TABLE_DML), ("sequence", sequence[g])) if privs)
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
    if g.object_type in ("table", "column"):
        if g.columns:
            cols = sql.SQL(", ").join(sql.Identifier(c) for c in g.columns)
            privs = sql.SQL(", ").join(sql.SQL("{} ({})").format(sql.SQL(p), cols) for p in g.privileges)
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
        sql.SQL("ALTER ROLE {} {}").format(sql.Identifier(role.name), role.attributes_sql(master_changeable=True))]
    out += [_grant_sql(g, role.name, database) for g in role.grants]
    out += [sql.SQL("GRANT {} TO {}").format(sql.Identifier(role.name), _role_ident(m)) for m in role.members]
    out += [default_privilege_sql(d) for d in role.defaults]
    return out


_DEFAULT_KINDS = {"table": "TABLES", "sequence": "SEQUENCES", "schema": "SCHEMAS", "function": "FUNCTIONS"}


def default_privilege_sql(d: DefaultPrivilege) -> sql.Composable:
    """ALTER DEFAULT PRIVILEGES FOR ROLE owner [IN SCHEMA s] GRANT ... ON <kind> TO grantee."""
    where = sql.SQL(" IN SCHEMA {}").format(sql.Identifier(d.schema)) if d.schema else sql.SQL("")
    return sql.SQL("ALTER DEFAULT PRIVILEGES FOR ROLE {}{} GRANT {} ON {} TO {}").format(
        sql.Identifier(d.owner), where, sql.SQL(", ").join(sql.SQL(p) for p in d.privileges),
        sql.SQL(_DEFAULT_KINDS[d.object_type]), sql.Identifier(d.grantee))


def _create_if_missing_sql(role: Role) -> sql.Composable:
    return sql.SQL(
        "DO $tenantdb$ BEGIN IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {}) THEN {}; "
        "END IF; END $tenantdb$").format(sql.Literal(role.name), create_sql(role))


def _revoke_undeclared_members_sql(role: Role) -> sql.Composable:
    """Converge membership: members not declared (and not the master) lose the role."""
    declared = [m for m in role.members if m != MASTER]
    return sql.SQL(
        "DO $tenantdb$ DECLARE m name; BEGIN "
        "FOR m IN SELECT pg_catalog.pg_get_userbyid(a.member) FROM pg_catalog.pg_auth_members a "
        "WHERE a.roleid = {}::pg_catalog.regrole AND a.member <> (SELECT oid FROM pg_catalog.pg_roles "
        "WHERE rolname = CURRENT_USER) AND pg_catalog.pg_get_userbyid(a.member) <> ALL ({}::pg_catalog.text[]) "
        "LOOP EXECUTE pg_catalog.format('REVOKE %I FROM %I', {}, m); END LOOP; END $tenantdb$"
    ).format(sql.Literal(role.name), sql.Literal(declared), sql.Literal(role.name))



def _script(statements: list[sql.Composable]) -> sql.Composed:
    return sql.Composed([sql.SQL(";\n").join(statements), sql.SQL(";\n")])



def tenant_schema_sql(s: Settings, schema: str) -> list[sql.Composable]:
    """CREATE SCHEMA owned by the migrator, USAGE and default privileges (tenant create)."""
    grants, defaults = tenant_schema(s, schema)
    out: list[sql.Composable] = [sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
        sql.Identifier(schema), sql.Identifier(s.migrator_role))]
    out += [_grant_sql(g, grantee, s.db_name) for grantee, g in grants]
    return out + [default_privilege_sql(d) for d in defaults]
