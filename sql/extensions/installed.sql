-- extensions/installed.sql: which of the declared extensions exist in the connected database,
-- with their versions, as the master (bootstrap, verify). Parameter: the extension names.
SELECT extname, extversion FROM pg_catalog.pg_extension WHERE extname = ANY(%s)
