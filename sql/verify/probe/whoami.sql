-- verify/probe/whoami.sql: ISO-PROBE's rolled-back isolation probe, as app_user: which role the probe runs as, and whether the tenant setting
-- has never existed in the session (unset) or exists empty (reset). Parameter: the setting's name.
SELECT current_user, current_setting(%s, true) IS NULL
