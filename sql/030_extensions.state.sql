-- 030_extensions.state.sql: the extension 030_extensions.sql installs, as one row.
SELECT (SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'pg_stat_statements') AS pg_stat_statements;
