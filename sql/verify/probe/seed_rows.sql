-- verify/probe/seed_rows.sql: ISO-PROBE's rolled-back isolation probe, as the migrator, before isolation is on (so the session
-- never sets a tenant context before the unset reads): two rows of A, one of B.
INSERT INTO {table} (tenant_id, note) VALUES ({a}, 'a1'), ({a}, 'a2'), ({b}, 'b1')
