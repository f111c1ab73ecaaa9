-- verify/probe/reset_role.sql: ISO-PROBE's rolled-back isolation probe: back to the master (the session user) inside the
-- transaction, from the migrator or app_user.
RESET ROLE
