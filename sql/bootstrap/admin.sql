-- bootstrap/admin.sql: the bootstrap's first round trip, as the master on the admin database: what
-- comes before any change: the session's TLS, whether the database exists, which declared roles
-- exist (the access stack must have made them first). No lock here: the bootstrap's lock is a table
-- in the database itself (bootstrap/lock_table.sql), taken once the database exists.
SELECT s.ssl AS tls, pg_catalog.concat_ws(' ', s.version, s.cipher) AS tls_version,
       EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = {db_name_name}) AS db_exists,
       ARRAY(SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = ANY ({role_names}::text[])) AS roles_found
FROM (SELECT 1) AS one
LEFT JOIN pg_catalog.pg_stat_ssl s ON s.pid = pg_catalog.pg_backend_pid();
