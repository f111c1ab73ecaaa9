-- tenants/sample_tenant_id.sql: `local up`'s sample tenants, as the master: a tenant's uuid, the
-- value its own tenant context is set to. Parameter: the slug.
SELECT tenant_id::text FROM {registry} WHERE slug = %s
