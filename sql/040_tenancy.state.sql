-- 040_tenancy.state.sql: the schema and functions 040_tenancy.sql declares, as one row.
-- In signed mode (045) the functions are the other file's, and this row does
-- not change when 040 runs, since 040 leaves them alone.
SELECT n.oid IS NOT NULL AS schema,
       pg_catalog.pg_get_userbyid(n.nspowner) AS schema_owner,
       n.nspacl::text AS schema_acl,
       p.oid IS NOT NULL AS function,
       pg_catalog.md5(pg_catalog.pg_get_functiondef(p.oid)) AS function_definition,
       p.proacl::text AS function_acl,
       pg_catalog.obj_description(p.oid, 'pg_proc') AS function_comment,
       pg_catalog.md5(pg_catalog.pg_get_functiondef(st.oid)) AS set_tenant_definition,
       st.proacl::text AS set_tenant_acl,
       pg_catalog.obj_description(st.oid, 'pg_proc') AS set_tenant_comment
FROM (SELECT 1) AS one
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = {tenancy_schema_name}
LEFT JOIN pg_catalog.pg_proc p ON p.pronamespace = n.oid AND p.proname = 'current_tenant_id'
LEFT JOIN pg_catalog.pg_proc st ON st.pronamespace = n.oid AND st.proname = 'set_tenant';
