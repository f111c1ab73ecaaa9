-- verify/isolation/leftover.sql: AC10's rolled-back RLS proof, as the master, after app_user's transaction rolled back:
-- whether the scratch schema was left behind. Parameter: the scratch schema's name.
SELECT count(*) FROM pg_namespace WHERE nspname = %s
