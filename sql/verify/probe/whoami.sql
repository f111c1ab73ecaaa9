-- verify/probe/whoami.sql: the rolled-back isolation probes (ISO-PROBE, AC10, ISO-SIGNED), as app_user (a "require"
-- attempt: the batch stops unless it holds): whether the probe runs as app_user, and whether the tenant setting has
-- never existed in the session (unset) or exists empty (reset).
SELECT current_user = {app},
       CASE WHEN current_user <> {app} THEN format('running as %s, not %s', current_user, {app})
            WHEN current_setting({setting}, true) IS NULL THEN 'unset' ELSE 'reset' END
