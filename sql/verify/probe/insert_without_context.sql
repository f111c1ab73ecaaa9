-- verify/probe/insert_without_context.sql: ISO-PROBE's rolled-back isolation probe, with no valid context: an insert, which
-- the policy must refuse.
INSERT INTO {table} (tenant_id, note) VALUES ({tenant}, 'x')
