-- verify/probe/visible.sql: ISO-PROBE's rolled-back isolation probe, as tenant A: the tenant ids of the rows it reads (only its own two).
SELECT tenant_id FROM {table}
