-- verify/probe/as_app_user.sql: the rolled-back isolation probes (ISO-PROBE; AC10 runs it too), from the master: app_user for the rest of the
-- transaction: every probe after it runs with app_user's rights.
SET LOCAL ROLE {app_role}
