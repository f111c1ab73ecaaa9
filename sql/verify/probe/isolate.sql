-- verify/probe/isolate.sql: ISO-PROBE's rolled-back isolation probe, as the migrator: the scratch table isolated the way real
-- tenant tables are, by the tenancy schema's enable_isolation.
SELECT {tenancy}.enable_isolation(format('%I.%I', {schema}::text, 'probe')::regclass)
