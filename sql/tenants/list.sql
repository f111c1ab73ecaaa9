-- tenants/list.sql: `tenant list`, as the master: every registered tenant with its table count and
-- how many of those tables have row-level security enabled and forced (isolated).

SELECT t.tenant_id::text AS tenant_id, t.slug, t.schema_name AS schema, t.created_at,
       count(c.oid) AS tables,
       count(c.oid) FILTER (WHERE c.relrowsecurity AND c.relforcerowsecurity) AS isolated
FROM {registry} t
LEFT JOIN pg_namespace n ON n.nspname = t.schema_name
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p')
GROUP BY t.tenant_id, t.slug, t.schema_name, t.created_at
ORDER BY t.slug
