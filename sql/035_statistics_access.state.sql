-- 035_statistics_access.state.sql: the privileges on pg_stat_statements' views and functions, as one row.
SELECT pg_catalog.string_agg(x, '; ' ORDER BY x) AS statistics_acl
FROM (
  SELECT d.objid::pg_catalog.regclass::text || ' ' || coalesce(c.relacl::text, 'default') AS x
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_class c ON c.oid = d.objid
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
   WHERE d.classid = 'pg_catalog.pg_class'::pg_catalog.regclass AND d.deptype = 'e' AND e.extname = 'pg_stat_statements'
  UNION ALL
  SELECT d.objid::pg_catalog.regprocedure::text || ' ' || coalesce(p.proacl::text, 'default')
    FROM pg_catalog.pg_depend d JOIN pg_catalog.pg_proc p ON p.oid = d.objid
    JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
   WHERE d.classid = 'pg_catalog.pg_proc'::pg_catalog.regclass AND d.deptype = 'e' AND e.extname = 'pg_stat_statements'
) AS acl;
