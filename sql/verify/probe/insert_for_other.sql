-- verify/probe/insert_for_other.sql: ISO-PROBE's rolled-back isolation probe, as tenant A: inserting a row for B, which the
-- policy must refuse.
INSERT INTO {table} (tenant_id, note) VALUES ({tenant}, 'forged')
