-- verify/probe/attack_alter_table.sql: ISO-PROBE's rolled-back isolation probe, attack as app_user (must be refused: it needs ownership):
-- altering the table.
ALTER TABLE {table} ADD COLUMN x int
