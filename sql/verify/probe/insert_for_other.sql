-- verify/probe/insert_for_other.sql: the rolled-back isolation probes (ISO-PROBE, AC10, ISO-SIGNED), as tenant A:
-- inserting a row for B, which the policy must refuse.
INSERT INTO {table} (tenant_id, note) VALUES ({tenant}, 'forged')
