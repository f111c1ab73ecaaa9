-- 040_tenancy.state.sql: the schema and function 040_tenancy.sql declares, as one row.
SELECT n.oid IS NOT NULL AS schema,
       pg_catalog.pg_get_userbyid(n.nspowner) AS schema_owner,
       n.nspacl::text AS schema_acl,
       p.oid IS NOT NULL AS function,
       pg_catalog.md5(pg_catalog.pg_get_functiondef(p.oid)) AS function_definition,
       p.proacl::text AS function_acl,
       pg_catalog.obj_description(p.oid, 'pg_proc') AS function_comment
FROM (SELECT 1) AS one
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = {tenancy_schema_name}
LEFT JOIN pg_catalog.pg_proc p ON p.pronamespace = n.oid AND p.proname = 'current_tenant_id';
