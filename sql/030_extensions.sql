-- 030_extensions.sql: the extensions settings.extensions names, in db_name.
--
-- Story 0.4 task 3.6 needs pg_stat_statements (its library is loaded by the
-- parameter group's shared_preload_libraries; this makes its view available);
-- the multi-tenant migrations README adds uuid-ossp, pgcrypto, citext,
-- btree_gist and vector. {extensions} is that list; every name in it was
-- checked, when the settings were loaded, against the extensions RDS for
-- PostgreSQL offers, and on RDS the master user may create each of them.
--
-- Each extension goes into the schema its control file fixes, else public;
-- CASCADE creates what it requires. One the server does not offer
-- (pg_available_extensions) stops the step, except on the local stand-in
-- ({extensions_may_be_missing}: AWS is an emulator there), where the bootstrap
-- and verify name what is missing and why. Extensions that exist are left as
-- they are (no ALTER EXTENSION ... UPDATE).
DO $extensions$
DECLARE
  wanted text;
  fixed_schema name;
BEGIN
  FOREACH wanted IN ARRAY {extensions}::text[] LOOP
    CONTINUE WHEN EXISTS (SELECT FROM pg_catalog.pg_extension WHERE extname = wanted);
    IF NOT EXISTS (SELECT FROM pg_catalog.pg_available_extensions WHERE name = wanted) THEN
      CONTINUE WHEN {extensions_may_be_missing};
      RAISE EXCEPTION 'extension % is not available on this server', wanted
        USING HINT = 'pg_available_extensions lacks it: check engine_major and settings.extensions';
    END IF;
    SELECT v.schema INTO fixed_schema
      FROM pg_catalog.pg_available_extension_versions AS v
      JOIN pg_catalog.pg_available_extensions AS a ON a.name = v.name AND a.default_version = v.version
     WHERE v.name = wanted;
    EXECUTE pg_catalog.format('CREATE EXTENSION %I SCHEMA %I CASCADE',
                              wanted, coalesce(fixed_schema, 'public'));
  END LOOP;
END
$extensions$;
