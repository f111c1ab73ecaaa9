-- verify/probe/attack_drop_policy.sql: ISO-PROBE's rolled-back isolation probe, attack as app_user (must be refused: it needs ownership):
-- dropping the tenant policy.
DROP POLICY tenant_isolation ON {table}
