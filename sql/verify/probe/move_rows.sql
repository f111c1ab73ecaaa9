-- verify/probe/move_rows.sql: the rolled-back isolation probes (ISO-PROBE; AC10 runs it too), as tenant A: moving its rows to B, which the policy's
-- WITH CHECK must refuse.
UPDATE {table} SET tenant_id = {tenant}
