-- verify/signed/as_app_user.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), from the master's session when there is no app_user login: the
-- transaction becomes app_user, so the probe shows app_user's rights.
SET LOCAL ROLE {app_role}
