-- verify/probe/update_other.sql: ISO-PROBE's rolled-back isolation probe, as tenant A: an update of B's rows, which must
-- touch none.
UPDATE {table} SET note = 'x' WHERE tenant_id = {tenant}
