-- verify/pg_stat_statements.sql: AC6-LIVE's proof that pg_stat_statements works, as the master, in
-- db_name, in verify's read-only catalog batch (before sql/verify/catalog.sql, which reads the
-- outcome from the transaction-local setting tenantdb.pg_stat_statements).
-- version: the extension's version in this database (null when it is not installed);
-- answers: its view read once (the view raises unless the library is preloaded; that error is
-- kept as error, so the check reports it while the rest of the batch still runs). The view's
-- schema is only known from the catalog, hence EXECUTE with format('%I').
DO $tenantdb$
DECLARE
  ext_version text;
  ext_schema name;
  outcome json;
BEGIN
  SELECT e.extversion, n.nspname INTO ext_version, ext_schema
    FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid = e.extnamespace
   WHERE e.extname = 'pg_stat_statements';
  IF ext_version IS NULL THEN
    outcome := pg_catalog.json_build_object('version', NULL);
  ELSE
    BEGIN
      EXECUTE pg_catalog.format('SELECT 1 FROM %I.pg_stat_statements LIMIT 1', ext_schema);
      outcome := pg_catalog.json_build_object('version', ext_version, 'answers', true);
    EXCEPTION WHEN OTHERS THEN
      outcome := pg_catalog.json_build_object('version', ext_version, 'answers', false, 'error', SQLERRM);
    END;
  END IF;
  PERFORM pg_catalog.set_config('tenantdb.pg_stat_statements', outcome::text, true);
END
$tenantdb$
