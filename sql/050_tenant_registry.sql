-- 050_tenant_registry.sql: the registry of tenants.
--
-- One row per tenant: its id (the value of app.current_tenant and of every
-- tenant_id column), its slug and its schema tenant_<slug>. Written by
-- `tenantdb tenant create` / `drop` as the master; platform_admin may read it
-- (granted by the tenancy-roles step). app_user gets nothing here: a tenant's
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

COMMENT ON TABLE {tenancy}.tenants IS
  'Registry of tenants: id (the app.current_tenant value), slug, schema tenant_<slug>. Written by tenantdb tenant create/drop.';

REVOKE ALL ON {tenancy}.tenants FROM PUBLIC;
