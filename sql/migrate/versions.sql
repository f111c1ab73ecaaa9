-- versions.sql: every registered tenant (or the slugs asked for) with its
-- schema and the revisions in its Alembic version table, in ONE query, so a
-- rerun over thousands of tenants decides who is behind without a round trip
-- per tenant. A version table's rows can only be read by naming the table, so
-- query_to_xml runs one small SELECT per tenant that has one, server-side;
-- the names are quoted by format() (%% is doubled: psycopg binds this file).
--
-- Parameters: slugs text[] or NULL (every tenant), version_table text.
-- {registry}: the tenant registry (tenancy.tenants).
SELECT t.slug::text, t.schema_name::text AS schema, t.tenant_id::text,
       n.oid IS NOT NULL AS schema_exists,
       CASE WHEN v.oid IS NOT NULL THEN
         ARRAY(SELECT x::text FROM pg_catalog.unnest(pg_catalog.xpath('/table/row/version_num/text()',
                 pg_catalog.query_to_xml(pg_catalog.format('SELECT version_num FROM %%I.%%I ORDER BY 1',
                                                           t.schema_name, v.relname), false, false, ''))) x)
       END AS versions
FROM {registry} t
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = t.schema_name
LEFT JOIN pg_catalog.pg_class v ON v.relnamespace = n.oid AND v.relname = %(version_table)s AND v.relkind = 'r'
WHERE %(slugs)s::text[] IS NULL OR t.slug = ANY (%(slugs)s::text[])
ORDER BY t.slug
