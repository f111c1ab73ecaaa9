-- 035_statistics_access.sql: the statement statistics are for the master and a
-- monitoring role, not for app_user.
--
-- Every tenant's sessions run as the same app_user, and pg_stat_statements
-- shows a role the text of its own role's statements: without this, one
-- tenant's session reads every other tenant's statements (PostgreSQL 15 keeps
-- the literals of utility statements such as SET). The parameter group also
-- sets pg_stat_statements.track_utility = 0, and the application sets its
-- tenant with SELECT tenancy.set_tenant($1), so no id is in the text anyway.
--
-- PUBLIC loses every privilege on the extension's views and functions; the
-- built-in monitoring role pg_read_all_stats (what a monitoring login is
-- granted; it also sees other roles' statement text) may read them. The master
-- owns them on RDS (it created the extension) and keeps its rights; where
-- another role owns them the step warns and ISO-STATS fails. Nothing to do
-- when the extension is not installed.
DO $tenantdb$
DECLARE
  obj record;
BEGIN
  FOR obj IN
    SELECT d.classid, d.objid
      FROM pg_catalog.pg_depend d
      JOIN pg_catalog.pg_extension e ON e.oid = d.refobjid
     WHERE d.refclassid = 'pg_catalog.pg_extension'::pg_catalog.regclass AND d.deptype = 'e'
       AND e.extname = 'pg_stat_statements'
       AND d.classid IN ('pg_catalog.pg_class'::pg_catalog.regclass, 'pg_catalog.pg_proc'::pg_catalog.regclass)
     ORDER BY d.objid
  LOOP
    BEGIN
      IF obj.classid = 'pg_catalog.pg_class'::pg_catalog.regclass THEN
        EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM PUBLIC', obj.objid::pg_catalog.regclass);
        EXECUTE pg_catalog.format('REVOKE ALL ON %s FROM %I', obj.objid::pg_catalog.regclass, {app_role_name});
        EXECUTE pg_catalog.format('GRANT SELECT ON %s TO pg_read_all_stats', obj.objid::pg_catalog.regclass);
      ELSE
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', obj.objid::pg_catalog.regprocedure);
        EXECUTE pg_catalog.format('REVOKE ALL ON FUNCTION %s FROM %I', obj.objid::pg_catalog.regprocedure,
                                  {app_role_name});
        -- reading, not resetting: pg_stat_statements_reset stays its owner's
        IF (SELECT p.proname FROM pg_catalog.pg_proc p WHERE p.oid = obj.objid) <> 'pg_stat_statements_reset' THEN
          EXECUTE pg_catalog.format('GRANT EXECUTE ON FUNCTION %s TO pg_read_all_stats',
                                    obj.objid::pg_catalog.regprocedure);
        END IF;
      END IF;
    EXCEPTION WHEN insufficient_privilege THEN
      -- Only the objects' owner may: on RDS that is the master, who created the extension.
      RAISE WARNING '% is not the master''s to change (owner: %); ISO-STATS reports it',
        CASE WHEN obj.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
             THEN obj.objid::pg_catalog.regclass::text ELSE obj.objid::pg_catalog.regprocedure::text END,
        CASE WHEN obj.classid = 'pg_catalog.pg_class'::pg_catalog.regclass
             THEN (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c WHERE c.oid = obj.objid)
             ELSE (SELECT pg_catalog.pg_get_userbyid(p.proowner) FROM pg_catalog.pg_proc p WHERE p.oid = obj.objid) END;
    END;
  END LOOP;
END
$tenantdb$;
