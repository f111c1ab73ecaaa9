"""Alembic environment for tenant schemas, run by `tenantdb migrate` once per tenant.

tenantdb hands this script (docs/migrations.md):
- config.attributes["connection"]: an open SQLAlchemy connection, logged in as
  app_migrator, inside the tenant's transaction, with search_path set to
  "tenant_<slug>, pg_catalog, pg_temp" (None with `tenantdb migrate --sql`);
- config.attributes["tenant_schema"]: the tenant's schema, where Alembic's
  version table lives too; also "tenant_id" and "tenant_slug".
Revisions use unqualified names, so the same revision builds every tenant.
Do not commit or open transactions here: tenantdb commits after it has
isolated the schema's tables and checked them.
"""

from __future__ import annotations

from alembic import context

config = context.config
schema = config.attributes["tenant_schema"]

context.configure(
    connection=config.attributes.get("connection"),
    dialect_name="postgresql",          # what --sql (offline) renders for
    version_table_schema=schema,        # alembic_version inside the tenant schema
    transactional_ddl=True,
)

with context.begin_transaction():
    context.run_migrations()
