-- verify/probe/set_role.sql: ISO-PROBE's rolled-back isolation probe, ISO-PROBE-ROLE, on app_user's own login: SET ROLE to a privileged
-- role (the migrator, platform_admin, the master), which must be refused.
SET ROLE {role}
