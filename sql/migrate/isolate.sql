-- isolate.sql: isolation by construction, after a tenant's revisions and in
-- the same transaction. Every table of the schema that is not already
-- isolated the toolkit's way (row security enabled and forced, both policies
-- of enable_isolation present) gets {tenancy}.enable_isolation:
--   * a table with a tenant_id column: rows bound to the tenant;
--   * a table without one that settings untenanted_tables allows: the whole
--     table bound to the schema's tenant (060_enable_isolation.sql);
--   * never the Alembic version table (the toolkit's, not tenant data: no
--     app_user privilege at all instead, converge.sql).
-- Partitions are covered through their root. Tables already isolated are left
-- alone: re-creating their policies would take an ACCESS EXCLUSIVE lock on
-- every table of the tenant for nothing; posture.sql then checks what the
-- policies actually say.
--
-- Also returns what fails the tenant's migration (the caller rolls all of it
-- back): tables without tenant_id that are not allowed, and serial columns (a
-- default calling nextval: app_user has no privilege on tenant sequences, so
-- such a column fails every insert; identity columns need none).
-- Parameters: schema, untenanted text[], version_table.
WITH tables AS (
  SELECT c.oid, c.relname::pg_catalog.text AS relname, c.relispartition,
         c.relrowsecurity AND c.relforcerowsecurity
           AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_policy p
                 WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid
                   AND p.polname OPERATOR(pg_catalog.=) ANY ('{tenant_isolation,platform_admin_access}'::pg_catalog.name[]))
               OPERATOR(pg_catalog.=) 2
           AS isolated,
         EXISTS (SELECT FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid AND a.attname OPERATOR(pg_catalog.=) 'tenant_id'
                    AND NOT a.attisdropped) AS has_tenant_id
  FROM pg_catalog.pg_class c
  WHERE c.relnamespace OPERATOR(pg_catalog.=)
        (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname OPERATOR(pg_catalog.=) %(schema)s)
    AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog.char[])
),
refused AS (
  SELECT relname FROM tables
  WHERE NOT has_tenant_id AND relname OPERATOR(pg_catalog.<>) %(version_table)s
    AND relname OPERATOR(pg_catalog.<>) ALL (%(untenanted)s::pg_catalog.text[])
),
serial AS (
  SELECT DISTINCT t.relname OPERATOR(pg_catalog.||) '.' OPERATOR(pg_catalog.||) a.attname::pg_catalog.text AS col
  FROM tables t
  JOIN pg_catalog.pg_attrdef d ON d.adrelid OPERATOR(pg_catalog.=) t.oid
  JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) d.adrelid AND a.attnum OPERATOR(pg_catalog.=) d.adnum
  -- the stored expression calls nextval(regclass): found in its node tree, not by deparsing it
  -- (pg_get_expr locks the table it names, and the planner may call it on other tenants' defaults
  -- before the join narrows them to this schema: two tenants migrated at once then deadlock)
  WHERE pg_catalog.strpos(d.adbin::pg_catalog.text, pg_catalog.chr(123) OPERATOR(pg_catalog.||) 'FUNCEXPR :funcid '
          OPERATOR(pg_catalog.||) 'pg_catalog.nextval(regclass)'::pg_catalog.regprocedure::pg_catalog.oid::pg_catalog.text
          OPERATOR(pg_catalog.||) ' ') OPERATOR(pg_catalog.>) 0
),
isolated AS (
  SELECT {tenancy}.enable_isolation(t.oid::pg_catalog.regclass) FROM tables t
  WHERE NOT t.relispartition AND NOT t.isolated AND t.relname OPERATOR(pg_catalog.<>) %(version_table)s
    AND (t.has_tenant_id OR t.relname OPERATOR(pg_catalog.=) ANY (%(untenanted)s::pg_catalog.text[]))
    AND NOT EXISTS (SELECT FROM refused) AND NOT EXISTS (SELECT FROM serial)
)
SELECT (SELECT pg_catalog.count(*) FROM isolated)::pg_catalog.int4 AS isolated,
       ARRAY(SELECT relname FROM refused ORDER BY 1) AS refused,
       ARRAY(SELECT col FROM serial ORDER BY 1) AS serial
