-- tenants/contents.sql: what `tenant drop` would drop, as the master: the schema's relations
-- (tenants/pins.sql says what outside the schema depends on it). Parameter: the schema name.

SELECT (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
         WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) AS relations
FROM pg_namespace n WHERE n.nspname = %s
