-- verify/probe/as_app_user.sql: ISO-PROBE's rolled-back isolation probe, from the migrator back to the master, then app_user for the rest of the
-- transaction: every probe below runs with app_user's rights.
RESET ROLE; SET LOCAL ROLE {app_role}
