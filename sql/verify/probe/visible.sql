-- verify/probe/visible.sql: the rolled-back isolation probes (ISO-PROBE, AC10, ISO-SIGNED), as tenant A (a "check"
-- attempt): it reads its own two rows and no row of another tenant.
SELECT count(*) = 2 AND count(*) FILTER (WHERE tenant_id IS DISTINCT FROM {tenant}) = 0,
       format('%s rows, %s of another tenant', count(*), count(*) FILTER (WHERE tenant_id IS DISTINCT FROM {tenant}))
FROM {table}
