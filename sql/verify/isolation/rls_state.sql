-- verify/isolation/rls_state.sql: AC10's rolled-back RLS proof (a "check" attempt): row-level security is on and
-- forced on the probe table.
SELECT relrowsecurity AND relforcerowsecurity,
       format(CASE WHEN relrowsecurity AND relforcerowsecurity THEN 'enabled and forced on %s'
                   ELSE 'not enabled and forced on %s' END, oid::regclass)
FROM pg_class WHERE oid = {table_name}::regclass
