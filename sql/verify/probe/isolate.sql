-- verify/probe/isolate.sql: ISO-PROBE's rolled-back isolation probe, as the migrator: the scratch table isolated the way real tenant tables
-- are, by the tenancy schema's enable_isolation. Parameter: the scratch schema's name
-- (the doubled percent signs are format's, escaped for the driver).
SELECT {tenancy}.enable_isolation(format('%%I.%%I', %s::text, 'probe')::regclass)
