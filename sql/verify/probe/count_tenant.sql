-- verify/probe/count_tenant.sql: ISO-PROBE's rolled-back isolation probe, as tenant A: how many of B's rows it finds by id
-- (must be none).
SELECT count(*) FROM {table} WHERE tenant_id = {tenant}
