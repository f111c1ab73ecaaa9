-- 050_tenant_registry.sql: the registry of tenants.
--
-- One row per tenant: its id (the value of app.current_tenant and of every
-- tenant_id column), its slug and its schema tenant_<slug>. Written by
-- `tenantdb tenant create` / `drop` as the master; platform_admin may read it,
-- the migrator read it and record revisions (granted by the tenancy-roles
-- step). app_user gets nothing here (so it can neither read nor lock a row,
-- which is also migrate's per-tenant lock): a tenant's
-- application knows its own tenant id, and the list of all tenants is
-- itself cross-tenant information.
--
-- The registry is the toolkit's directory, not tenant data, so it is the one
-- table with a tenant_id column that the ISO-RLS check does not require to be
-- isolated; ISO-GRANTS checks instead that app_user holds no privilege on it.
CREATE TABLE IF NOT EXISTS {tenancy}.tenants (
  tenant_id   uuid        PRIMARY KEY DEFAULT pg_catalog.gen_random_uuid(),
  slug        text        NOT NULL UNIQUE,
  schema_name text        NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT pg_catalog.now()
);

-- The same rules the CLI applies (lower-case ASCII, schema = prefix || slug,
-- within PostgreSQL's 63-byte identifiers), so a row added by hand cannot
-- name a schema the toolkit would refuse. Dropped and re-added: converges
-- when the prefix setting changes.
ALTER TABLE {tenancy}.tenants DROP CONSTRAINT IF EXISTS tenants_slug_valid;
ALTER TABLE {tenancy}.tenants ADD CONSTRAINT tenants_slug_valid CHECK (
  slug OPERATOR(pg_catalog.~) '^[a-z][a-z0-9_]*$'
  AND schema_name = {tenant_schema_prefix} || slug
  AND pg_catalog.octet_length(schema_name) <= 63);

-- revisions: the tenant's Alembic revision(s) as `tenantdb migrate` recorded
-- them, in the transaction that ran them. The tenant's own version table
-- lives in its schema, where a stray grant or a hand edit can rewrite it;
-- this column only the toolkit writes (the migrator may UPDATE this column
-- alone, granted by the tenancy-roles step; app_user has nothing on the
-- registry). migrate decides who is behind from it and refuses a tenant whose
-- version table disagrees. NULL: not recorded yet (a registry older than the
-- column): the next migrate run takes the version table's, under the
-- tenant's lock, and records it. '{}': nothing migrated yet (tenant create).
ALTER TABLE {tenancy}.tenants ADD COLUMN IF NOT EXISTS revisions text[];

COMMENT ON TABLE {tenancy}.tenants IS
  'Registry of tenants: id (the app.current_tenant value), slug, schema tenant_<slug>, the revisions tenantdb migrate recorded. Written by tenantdb tenant create/drop and migrate.';

REVOKE ALL ON {tenancy}.tenants FROM PUBLIC;
