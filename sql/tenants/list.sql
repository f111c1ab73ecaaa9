-- tenants/list.sql: `tenant list`, as the master: every registered tenant with its table count, how
-- many of those tables have row-level security enabled and forced (isolated), and the revisions
-- `tenantdb migrate` recorded for it in the registry (NULL: not recorded yet). The Alembic version
-- table is the toolkit's bookkeeping, not a tenant table: not counted. No tenant's own table is
-- read (nothing in a tenant schema can stall or fail the list). Parameter: version_table.

SELECT t.tenant_id::text AS tenant_id, t.slug, t.schema_name AS schema, t.created_at,
       count(c.oid) AS tables,
       count(c.oid) FILTER (WHERE c.relrowsecurity AND c.relforcerowsecurity) AS isolated,
       t.revisions
FROM {registry} t
LEFT JOIN pg_namespace n ON n.nspname = t.schema_name
LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'p') AND c.relname <> %(version_table)s
GROUP BY t.tenant_id, t.slug, t.schema_name, t.created_at, t.revisions
ORDER BY t.slug
