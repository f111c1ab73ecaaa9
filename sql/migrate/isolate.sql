-- isolate.sql: isolation by construction, after a tenant's revisions and in
-- the same transaction. Every table of the schema with a tenant_id column that
-- is not already isolated the toolkit's way (row security enabled and forced,
-- both policies of enable_isolation present) gets {tenancy}.enable_isolation;
-- partitions are covered through their root. Tables already isolated are left
-- alone: re-creating their policies would take an ACCESS EXCLUSIVE lock on
-- every table of the tenant for nothing; posture.sql then checks what the
-- policies actually say.
--
-- Also returns the tables without a tenant_id column that are not allowed
-- (settings untenanted_tables, and the Alembic version table): the caller
-- fails the tenant's migration when there is one, which rolls all of it back.
-- Parameters: schema, allowed text[].
WITH tables AS (
  SELECT c.oid, c.relname::text AS relname, c.relispartition,
         c.relrowsecurity AND c.relforcerowsecurity
           AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_policy p
                 WHERE p.polrelid = c.oid AND p.polname IN ('tenant_isolation', 'platform_admin_access')) = 2
           AS isolated,
         EXISTS (SELECT FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant_id
  FROM pg_catalog.pg_class c
  WHERE c.relnamespace = (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname = %(schema)s)
    AND c.relkind IN ('r', 'p')
),
isolated AS (
  SELECT {tenancy}.enable_isolation(t.oid::pg_catalog.regclass) FROM tables t
  WHERE t.has_tenant_id AND NOT t.relispartition AND NOT t.isolated
    AND NOT EXISTS (SELECT FROM tables r WHERE NOT r.has_tenant_id AND r.relname <> ALL (%(allowed)s::text[]))
)
SELECT (SELECT pg_catalog.count(*) FROM isolated)::int AS isolated,
       ARRAY(SELECT relname FROM tables WHERE NOT has_tenant_id AND relname <> ALL (%(allowed)s::text[])
             ORDER BY relname) AS refused
