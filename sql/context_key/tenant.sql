-- context_key/tenant.sql: a registered tenant's id by slug (for `tenantdb tenant token`).
SELECT t.tenant_id::text AS tenant_id FROM {tenancy}.tenants t WHERE t.slug OPERATOR(pg_catalog.=) %(slug)s::text;
