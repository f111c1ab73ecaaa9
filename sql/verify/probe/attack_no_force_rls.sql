-- verify/probe/attack_no_force_rls.sql: ISO-PROBE's rolled-back isolation probe, attack as app_user (must be refused: it needs ownership):
-- letting the owner bypass row-level security.
ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY
