-- extensions/available.sql: which of the declared extensions the server offers at all, as the
-- master (verify SEC-EXTENSIONS). Parameter: the extension names.
SELECT name FROM pg_catalog.pg_available_extensions WHERE name = ANY(%s)
