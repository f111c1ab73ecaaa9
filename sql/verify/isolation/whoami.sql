-- verify/isolation/whoami.sql: AC10's rolled-back RLS proof, as app_user: which role the proof really runs as.
SELECT current_user
