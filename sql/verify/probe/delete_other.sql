-- verify/probe/delete_other.sql: the rolled-back isolation probes (ISO-PROBE; AC10 runs it too), as tenant A: a delete of B's rows, which must
-- touch none.
DELETE FROM {table} WHERE tenant_id = {tenant}
