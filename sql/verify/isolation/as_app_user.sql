-- verify/isolation/as_app_user.sql: AC10's rolled-back RLS proof, from the master's session when there is no app_user login:
-- the transaction becomes app_user (so the proof shows app_user's rights, not the master's).
SET LOCAL ROLE {app_role}
