-- verify/probe/attack_open_policy.sql: ISO-PROBE's rolled-back isolation probe, attack as app_user (must be refused: it needs ownership):
-- adding an always-true policy (policies are OR-ed, so it would open every row).
CREATE POLICY open ON {table} USING (true)
