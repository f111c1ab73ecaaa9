-- 030_extensions.sql: query statistics (Story 0.4 task 3.6).
--
-- The library itself is loaded by the parameter group
-- (shared_preload_libraries = pg_stat_statements); this makes its view
-- available in the database. On RDS the master user may create it.
CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
