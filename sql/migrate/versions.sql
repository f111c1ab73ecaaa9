-- versions.sql: every registered tenant (or the slugs asked for) with its
-- schema and the revisions the registry recorded for it, in ONE query, so a
-- rerun over thousands of tenants decides who is behind without a round trip
-- per tenant. It reads the registry's plain column, never the tenants' own
-- version tables: nothing in a tenant schema (a lock, a strange value) can
-- stall or fail it. NULL revisions: not recorded yet (an older registry); the
-- tenant goes to a worker, which records them.
--
-- Parameters: slugs text[] or NULL (every tenant).
-- {registry}: the tenant registry (tenancy.tenants).
SELECT t.slug::pg_catalog.text, t.schema_name::pg_catalog.text AS schema, t.tenant_id::pg_catalog.text,
       EXISTS (SELECT FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) t.schema_name)
         AS schema_exists,
       t.revisions AS versions
FROM {registry} t
WHERE %(slugs)s::pg_catalog.text[] IS NULL OR t.slug OPERATOR(pg_catalog.=) ANY (%(slugs)s::pg_catalog.text[])
ORDER BY t.slug
