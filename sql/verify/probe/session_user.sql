-- verify/probe/session_user.sql: ISO-PROBE-ROLE, on app_user's own login (a "require" attempt): the session user must be
-- app_user itself (SET ROLE checks its memberships).
SELECT session_user = {app}, CASE WHEN session_user = {app} THEN '' ELSE format('session user %s', session_user) END
