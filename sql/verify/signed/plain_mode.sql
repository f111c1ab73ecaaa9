-- plain_mode.sql: in plain mode (settings tenant_context = "plain"), is any signed-mode
-- state left in the database? Runs as the master, inside verify's read-only transaction.
-- The signed-context step drops the key table when the mode is plain; a key table that is
-- still there means keys were left behind (or the mode in force is not the declared one).
SELECT pg_catalog.to_regclass(pg_catalog.quote_ident({tenancy_name}) || '.context_keys') IS NOT NULL AS key_table
