-- tenants/register.sql: `tenant create` records the new tenant in the registry, as the master, in
-- the transaction that created its schema. Parameters: slug, schema name. Returns the tenant's uuid.
INSERT INTO {registry} (slug, schema_name) VALUES (%s, %s) RETURNING tenant_id
