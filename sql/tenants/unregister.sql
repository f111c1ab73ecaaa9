-- tenants/unregister.sql: `tenant drop`, as the master, in the same transaction as the schema's
-- drop: the tenant's registry row. Parameter: the slug.
DELETE FROM {registry} WHERE slug = %s
