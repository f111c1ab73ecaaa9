-- verify/probe/attack_truncate.sql: ISO-PROBE's rolled-back isolation probe, attack as app_user (must be refused): TRUNCATE, which ignores
-- row-level security.
TRUNCATE {table}
