-- tenants/lookup.sql: one tenant as the registry and the catalog know it, as the master: its
-- registry row (if any) and whether its schema exists. Always one row, even for an unknown slug.
-- Parameters: the slug (slug) and the schema name it would have (schema).

SELECT t.tenant_id::text AS tenant_id, t.slug, t.schema_name, t.created_at,
       n.oid IS NOT NULL AS schema_exists
FROM (SELECT 1) one
LEFT JOIN {registry} t ON t.slug = %(slug)s
LEFT JOIN pg_namespace n ON n.nspname = %(schema)s
