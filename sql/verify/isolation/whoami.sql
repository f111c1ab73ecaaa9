-- verify/isolation/whoami.sql: AC10's rolled-back RLS proof, as app_user (a "require" attempt: the batch stops unless it
-- holds): the proof must really run as app_user.
SELECT current_user = {app},
       CASE WHEN current_user = {app} THEN '' ELSE format('running as %s, not %s', current_user, {app}) END
