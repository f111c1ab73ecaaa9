-- verify/signed/result.sql: what ISO-SIGNED's probe found (sql/verify/signed/probe.sql), read in the
-- same transaction.
SELECT pg_catalog.current_setting('tenantdb.signed_probe_result')::json AS result
