-- tenants/register.sql: `tenant create` records the new tenant in the registry, as the master, in
-- the transaction that created its schema, with no revision recorded yet ('{}': nothing migrated,
-- so a version table that appears without `tenantdb migrate` is refused by it).
-- Parameters: slug, schema name. Returns the tenant's uuid.
INSERT INTO {registry} (slug, schema_name, revisions) VALUES (%s, %s, '{}') RETURNING tenant_id
