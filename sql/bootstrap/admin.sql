-- bootstrap/admin.sql: the bootstrap's first round trip, as the master on the admin database.
-- Takes the advisory lock if it is free (the bootstrap waits for it otherwise) and reads what
-- comes before any change: the session's TLS, whether the database exists, which declared roles
-- exist (the access stack must have made them first).
SELECT pg_catalog.pg_try_advisory_lock({lock_key}::bigint) AS locked,
       s.ssl AS tls, pg_catalog.concat_ws(' ', s.version, s.cipher) AS tls_version,
       EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = {db_name_name}) AS db_exists,
       ARRAY(SELECT rolname::text FROM pg_catalog.pg_roles WHERE rolname = ANY ({role_names}::text[])) AS roles_found
FROM (SELECT 1) AS one
LEFT JOIN pg_catalog.pg_stat_ssl s ON s.pid = pg_catalog.pg_backend_pid();
