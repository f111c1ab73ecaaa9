-- verify/probe/attack_disable_rls.sql: ISO-PROBE's rolled-back isolation probe, attack as app_user (must be refused: it needs ownership):
-- switching row-level security off.
ALTER TABLE {table} DISABLE ROW LEVEL SECURITY
