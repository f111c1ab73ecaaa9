-- verify/probe/move_rows.sql: ISO-PROBE's rolled-back isolation probe, as tenant A: moving its rows to B, which the policy's
-- WITH CHECK must refuse.
UPDATE {table} SET tenant_id = {tenant}
