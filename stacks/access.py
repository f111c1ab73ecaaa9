"""The access stack ``<project>-access-<env>``: roles and grants as Terraform resources (docs/access.md).

Rendered from the same role model the bootstrap renders to SQL
(:mod:`tenantdb.database.bootstrap.roles`), so the two cannot disagree (tests/test_roles_equivalence.py).
It declares what exists before the bootstrap runs:

- every modelled role with all its attributes spelled out (``postgresql_role``),
  WITHOUT a password: the bootstrap sets passwords and writes the secrets, so
  no password reaches Terraform state;
- memberships (``postgresql_grant_role``), grants on the database and on
  schemas (``postgresql_grant``), the toolkit's schema (``postgresql_schema``),
  default privileges (``postgresql_default_privileges``) and the extensions
  (``postgresql_extension``).

Grants on objects inside the toolkit's schema (its functions, the tenant
registry) stay with the bootstrap, which creates those objects: a grant can
only follow its object. The database itself is referenced, not managed: RDS
creates ``db_name`` (the database stack's ``db_name``), and a
``postgresql_database`` here would fight it (import needed) and drop the
database with the stack.
"""

from __future__ import annotations

from stacks.access_connection import ConnectionProps, add_postgresql_provider
from stacks.cdk import (
    Construct,
    PgDefaultPrivileges,
    PgExtension,
    PgGrant,
    PgGrantRole,
    PgRole,
    PgSchema,
    TerraformOutput,
    TerraformStack,
    named,
)
from stacks.provider import ProviderProps, add_backend, add_provider
from tenantdb.database.bootstrap import roles
from tenantdb.settings import Settings


class AccessStack(TerraformStack):
    def __init__(self, scope: Construct, settings: Settings):
        super().__init__(scope, settings.access_stack_id)
        s = settings
        add_provider(self, ProviderProps(s, s.access_stack_id))  # the instance look-up only
        add_backend(self, ProviderProps(s, s.access_stack_id))
        add_postgresql_provider(self, ConnectionProps(s))
        model = roles.model(s)

        created = {r.name: _role(self, r) for r in model.roles}
        schema = named(PgSchema(self, "tenancy-schema", name=s.tenancy_schema, database=s.db_name,
                                owner=s.master_username, if_not_exists=True, drop_cascade=False),
                       f"schema_{s.tenancy_schema}")
        schemas = {s.tenancy_schema: schema.name}

        for r in model.roles:
            name = created[r.name].name  # a reference: grants wait for the role
            for member in r.members:
                who = s.master_username if member == roles.MASTER else member
                named(PgGrantRole(self, f"{r.name}-member-{who}", role=who, grant_role=name),
                      f"{r.name}_member_{who}")
            for g in r.grants:
                if g.object_type in roles.TERRAFORM_GRANTS:
                    _grant(self, s, name, r.name, g, schemas)
            for d in r.defaults:
                named(PgDefaultPrivileges(
                    self, f"{r.name}-default-{d.object_type}", database=s.db_name, role=name,
                    owner=created[d.owner].name if d.owner in created else d.owner,
                    object_type=d.object_type, privileges=list(d.privileges),
                    **({"schema": d.schema} if d.schema else {}),
                ), f"{r.name}_default_{d.object_type}_{d.schema or 'all'}")

        _grant(self, s, "public", "public", roles.PUBLIC_ON_SCHEMA_PUBLIC, {})
        for ext in s.extensions:  # what sql/030_extensions.sql creates
            named(PgExtension(self, f"extension-{ext}", name=ext, database=s.db_name), ext)

        TerraformOutput(self, "roles", value=[created[r.name].name for r in model.roles],
                        description="roles this stack manages (passwords: tenantdb bootstrap)")


def _role(scope: Construct, r: roles.Role) -> PgRole:
    # Every attribute explicit, so drift on any of them shows in the plan. No password (see module doc).
    return named(PgRole(
        scope, f"role-{r.name}", name=r.name,
        login=r.login, superuser=r.superuser, bypass_row_level_security=r.bypassrls,
        create_database=r.createdb, create_role=r.createrole, replication=r.replication, inherit=r.inherit,
    ), r.name)


def _grant(scope: Construct, s: Settings, role_ref: str, role_name: str, g: roles.Grant,
           schemas: dict[str, str]) -> PgGrant:
    kwargs = {"schema": schemas.get(g.schema, g.schema)} if g.object_type == "schema" else {}
    where = g.schema if g.object_type == "schema" else s.db_name
    return named(PgGrant(scope, f"{role_name}-{g.object_type}-{where}", database=s.db_name, role=role_ref,
                         object_type=g.object_type, privileges=list(g.privileges), **kwargs),
                 f"{role_name}_{g.object_type}_{where}")
