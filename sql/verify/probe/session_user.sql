-- verify/probe/session_user.sql: ISO-PROBE's rolled-back isolation probe, ISO-PROBE-ROLE, on app_user's own login: the session user (SET ROLE
-- checks its memberships, so it must be app_user itself).
SELECT session_user
