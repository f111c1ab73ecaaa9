-- 070_no_hooks.sql: remove the persistent hooks a hostile app_user (or a
-- careless change) can leave on the application roles.
--
-- 1. Per-role and per-database settings (pg_db_role_setting) of app_user, the
--    migrator, platform_admin and the reporting role. Any role may
--    ALTER ROLE itself SET ...: app_user can make every new session of every
--    tenant run with search_path = its own schema first (its functions then
--    collect their arguments), or read-only. Nothing the toolkit wants is set
--    per role, so every such setting is reset.
-- 2. Membership of those roles in built-in roles with server-side power
--    (pg_execute_server_program, pg_read_all_data, pg_signal_backend,
--    pg_read_all_stats, ...; tenantdb.database.bootstrap.roles.POWERFUL_ROLES): revoked where the master may (it
--    needs ADMIN OPTION on the built-in role); where it may not, the
--    membership stays, the step says so and ISO-BUILTIN-ROLES fails.
--
-- The step's state (070_no_hooks.state.sql) lists both, so the bootstrap's
-- report says what was removed.
DO $tenantdb$
DECLARE
  hook record;
BEGIN
  FOR hook IN
    SELECT r.rolname, d.datname
      FROM pg_catalog.pg_db_role_setting s
      JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
      LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
     WHERE r.rolname = ANY ({app_roles}::text[])
  LOOP
    IF hook.datname IS NULL THEN
      EXECUTE pg_catalog.format('ALTER ROLE %I RESET ALL', hook.rolname);
    ELSE
      EXECUTE pg_catalog.format('ALTER ROLE %I IN DATABASE %I RESET ALL', hook.rolname, hook.datname);
    END IF;
  END LOOP;

  FOR hook IN
    SELECT b.rolname AS granted, a.rolname AS member
      FROM pg_catalog.pg_auth_members m
      JOIN pg_catalog.pg_roles a ON a.oid = m.member
      JOIN pg_catalog.pg_roles b ON b.oid = m.roleid
     WHERE a.rolname = ANY ({app_roles}::text[]) AND b.rolname = ANY ({powerful}::text[])
  LOOP
    BEGIN
      EXECUTE pg_catalog.format('REVOKE %I FROM %I', hook.granted, hook.member);
    EXCEPTION WHEN insufficient_privilege THEN
      RAISE WARNING 'cannot revoke % from % (the master lacks ADMIN OPTION on it): a superuser must run REVOKE % FROM %',
        hook.granted, hook.member, hook.granted, hook.member;
    END;
  END LOOP;
END
$tenantdb$;
