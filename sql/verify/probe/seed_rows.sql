-- verify/probe/seed_rows.sql: the rolled-back isolation probes (ISO-PROBE as the migrator, AC10 and ISO-SIGNED as
-- app_user), before isolation is on (so the session never sets a tenant context before the unset reads): two rows
-- of A, one of B.
INSERT INTO {table} (tenant_id, note) VALUES ({a}, 'a1'), ({a}, 'a2'), ({b}, 'b1')
