-- 010_roles.sql: the application's runtime role (AC8).
--
-- app_user logs in, and has no power over roles, databases or row security:
-- LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION.
-- (Room for the migrator and platform-admin roles of the tenant-isolation
-- work: they will get files of their own beside this one.)

-- Create it when missing. No password here: tenantdb sets it separately as a
-- SCRAM verifier, and with --master-dsn a new app_user gets none.
DO $tenantdb$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {app_role_name}) THEN
    CREATE ROLE {app_role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOREPLICATION INHERIT;
  END IF;
END
$tenantdb$;

-- Converge an existing role. A CREATEROLE master may change these; SUPERUSER,
-- BYPASSRLS and REPLICATION need a superuser and are checked before this file.
ALTER ROLE {app_role} LOGIN NOCREATEDB NOCREATEROLE INHERIT;

-- The master becomes a member of app_user so that it may SET ROLE app_user:
-- the verifier proves row security as app_user that way when it has no
-- app_user password (--master-dsn). Membership in this direction gives
-- app_user nothing.
GRANT {app_role} TO CURRENT_USER;
