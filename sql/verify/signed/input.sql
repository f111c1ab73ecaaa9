-- verify/signed/input.sql: ISO-SIGNED's probe input (sql/verify/signed/probe.sql), transaction-local.
-- Parameter: the JSON the probe reads (tenant ids and the contexts to try; tokens travel as a
-- parameter, never in a statement's text).
SELECT pg_catalog.set_config('tenantdb.signed_probe', %s, true)
