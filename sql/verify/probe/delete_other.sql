-- verify/probe/delete_other.sql: ISO-PROBE's rolled-back isolation probe, as tenant A: a delete of B's rows, which must
-- touch none.
DELETE FROM {table} WHERE tenant_id = {tenant}
