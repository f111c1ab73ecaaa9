-- verify/probe/update_other.sql: the rolled-back isolation probes (ISO-PROBE; AC10 runs it too), as tenant A: an update of B's rows, which must
-- touch none.
UPDATE {table} SET note = 'x' WHERE tenant_id = {tenant}
