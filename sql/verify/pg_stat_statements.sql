-- verify/pg_stat_statements.sql: AC6-LIVE's proof that pg_stat_statements works, in one statement.
-- installed: the extension's version and schema in this database (NULL when it is not installed);
-- answers: the view read once (pg_stat_statements raises unless the library is preloaded, and the
-- check reports that error). The view's schema is only known from the catalog, hence query_to_xml;
-- the name is quoted with format('%I').
SELECT e.extversion AS version,
       CASE WHEN e.oid IS NOT NULL THEN pg_catalog.query_to_xml(
         pg_catalog.format('SELECT count(*) AS n FROM (SELECT 1 FROM %I.pg_stat_statements LIMIT 1) AS probe',
                           n.nspname), false, true, '') IS NOT NULL END AS answers
FROM (SELECT 1) AS one
LEFT JOIN pg_catalog.pg_extension e ON e.extname = 'pg_stat_statements'
LEFT JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace;
