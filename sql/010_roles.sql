-- 010_roles.sql: the application's runtime role (AC8).
--
-- app_user logs in, and has no power over roles, databases or row security.
-- Its attributes are the role model's (tenantdb/database/bootstrap/roles.py, the one
-- declaration every renderer uses: this step, the tenancy-roles step, the
-- access stack); the bootstrap renders them into two placeholders:
--   app_role_create      CREATE ROLE app_user LOGIN NOCREATEDB NOCREATEROLE INHERIT
--                        NOSUPERUSER NOBYPASSRLS NOREPLICATION
--   app_role_attributes  the same minus SUPERUSER, BYPASSRLS, REPLICATION, which
--                        only a superuser may name (checked before this file)

-- Create it when missing. No password here: tenantdb sets it separately as a
-- SCRAM verifier, and with --master-dsn a new app_user gets none.
DO $tenantdb$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {app_role_name}) THEN
    {app_role_create};
  END IF;
END
$tenantdb$;

-- Converge an existing role.
ALTER ROLE {app_role} {app_role_attributes};

-- The master becomes a member of app_user (the model's membership) so that it
-- may SET ROLE app_user: the verifier proves row security as app_user that way
-- when it has no app_user password (--master-dsn). Membership in this
-- direction gives app_user nothing.
GRANT {app_role} TO CURRENT_USER;
