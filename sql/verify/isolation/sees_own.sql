-- verify/isolation/sees_own.sql: AC10's rolled-back RLS proof, as tenant A (a "check" attempt): it sees its own two
-- rows of the three, none of B.
SELECT count(*) = 2 AND count(*) FILTER (WHERE tenant_id IS DISTINCT FROM {tenant}) = 0,
       CASE WHEN count(*) = 2 AND count(*) FILTER (WHERE tenant_id IS DISTINCT FROM {tenant}) = 0
            THEN 'A sees its 2 rows of 3'
            ELSE format('tenant A sees %s rows, %s of another tenant', count(*),
                        count(*) FILTER (WHERE tenant_id IS DISTINCT FROM {tenant})) END
FROM {table}
