-- bootstrap/lock_table.sql: the bootstrap, as the master on db_name, in a session of its own before
-- anything else: the table whose lock serializes bootstraps (bootstrap/lock_try.sql), made when
-- missing and committed at once (the steps' own transaction must not wait for it).
--
-- Why a table, not an advisory lock: any role may take any advisory key, so app_user's login could
-- hold the bootstrap's and make every bootstrap (and with it --rotate-app-password) wait and fail.
-- LOCK TABLE needs a privilege on the table: only its owner, the master, holds one here (no grant,
-- in the toolkit's schema, where app_user may not create). It holds no row.
--
-- The toolkit's schema is made here on the very first run (040_tenancy.sql then grants USAGE on
-- it). A schema or table an application role could lock (owns, or may write) is refused, naming it.
CREATE SCHEMA IF NOT EXISTS {tenancy};
CREATE TABLE IF NOT EXISTS {lock_table} ();
-- Nothing here may lock the table itself (COMMENT ON would): a run waiting for another would wait
-- here, under the toolkit's short lock_timeout, instead of in bootstrap/lock_wait.sql.
DO $lock$
DECLARE
  tbl constant pg_catalog.regclass := {lock_table_text}::pg_catalog.regclass;
  schema_owner oid;
  able text;
BEGIN
  SELECT n.nspowner INTO schema_owner
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
   WHERE c.oid OPERATOR(pg_catalog.=) tbl;
  -- An application role that is (a member of) the schema's owner could drop and remake the table;
  -- one with a write privilege on it could lock it.
  SELECT r.rolname INTO able FROM pg_catalog.pg_roles r
   WHERE r.rolname OPERATOR(pg_catalog.=) ANY ({app_roles}::pg_catalog.text[])
     AND (pg_catalog.pg_has_role(r.oid, schema_owner, 'MEMBER')
          OR pg_catalog.has_table_privilege(r.oid, tbl, 'INSERT, UPDATE, DELETE, TRUNCATE'))
   LIMIT 1;
  IF able IS NOT NULL THEN
    RAISE EXCEPTION '% could hold the bootstrap''s lock: schema % is owned by %, table % by %',
          able, {tenancy_schema_name}, pg_catalog.pg_get_userbyid(schema_owner), tbl,
          (SELECT pg_catalog.pg_get_userbyid(c.relowner) FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) tbl)
      USING ERRCODE = 'insufficient_privilege',
            HINT = 'as the master: give the schema and the table back to the master (ALTER ... OWNER TO) and revoke the grants';
  END IF;
  IF pg_catalog.obj_description(tbl, 'pg_class') IS NULL THEN  -- just made
    EXECUTE pg_catalog.format('COMMENT ON TABLE %s IS %L', tbl,
      'tenantdb: its lock serializes bootstraps (LOCK TABLE ... IN EXCLUSIVE MODE, held for the whole run); no rows, no grants');
  END IF;
END
$lock$;
