-- local/hand_over_extensions.sql: the local stand-in gives the master what RDS's master owns.
--
-- On RDS the master creates the extensions it needs (pg_stat_statements among
-- them) and so owns their views and functions. The stand-in cluster's
-- superuser creates the untrusted ones instead (in template1 and in db_name);
-- this hands every table, view and routine of the extensions named {names}
-- in the current database to {owner}, as RDS would have it. Without it the
-- bootstrap could not revoke app_user's access to pg_stat_statements, and
-- ISO-STATS would fail where RDS passes.
DO $stand_in$
DECLARE
  obj record;
BEGIN
  FOR obj IN
    SELECT d.classid, d.objid
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
     WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
       AND e.extname = ANY ({names})
       AND d.classid IN ('pg_catalog.pg_class'::pg_catalog.regclass, 'pg_catalog.pg_proc'::pg_catalog.regclass)
  LOOP
    IF obj.classid = 'pg_catalog.pg_class'::pg_catalog.regclass THEN
      EXECUTE pg_catalog.format('ALTER TABLE %s OWNER TO %I', obj.objid::pg_catalog.regclass, {owner});
    ELSE
      EXECUTE pg_catalog.format('ALTER ROUTINE %s OWNER TO %I', obj.objid::pg_catalog.regprocedure, {owner});
    END IF;
  END LOOP;
END
$stand_in$
