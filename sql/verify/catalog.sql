-- verify/catalog.sql: the database facts of verify's checks in one statement, as the master,
-- connected to db_name (or, when db_name is missing, to the admin database: the facts of db_name
-- below are then not used). Placeholders: db, app (the role), names (parameters to read),
-- extensions (the declared ones), tenancy (the tenancy schema's name).
--   server_version*: AC1's engine version as the server reports it;
--   settings: AC6-LIVE's live parameters with their units;
--   db_exists, app_role, app_db_privileges: AC7 and AC8;
--   tls: this session's TLS as the server sees it (pg_stat_ssl), for the TLS check;
--   extensions, offered: EXTENSIONS (installed here with versions; offered by the server at all);
--   context_key_table: ISO-SIGNED in plain mode (a signing key table left behind);
--   pg_stat_statements: what sql/verify/pg_stat_statements.sql found, run just before (null when
--   it did not run: on the admin database).
SELECT pg_catalog.current_setting('server_version') AS server_version,
       pg_catalog.current_setting('server_version_num')::int AS server_version_num,
       (SELECT pg_catalog.json_object_agg(name, pg_catalog.json_build_object('setting', setting, 'unit', unit))
          FROM pg_catalog.pg_settings WHERE name = ANY({names})) AS settings,
       EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = {db}) AS db_exists,
       (SELECT pg_catalog.row_to_json(r) FROM (
          SELECT rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, rolcanlogin, rolreplication
          FROM pg_catalog.pg_roles WHERE rolname = {app}) r) AS app_role,
       CASE WHEN EXISTS (SELECT FROM pg_catalog.pg_roles WHERE rolname = {app})
             AND EXISTS (SELECT FROM pg_catalog.pg_database WHERE datname = {db})
            THEN pg_catalog.json_build_object(
              'CONNECT', pg_catalog.has_database_privilege({app}, {db}, 'CONNECT'),
              'CREATE', pg_catalog.has_database_privilege({app}, {db}, 'CREATE'),
              'TEMPORARY', pg_catalog.has_database_privilege({app}, {db}, 'TEMPORARY')) END AS app_db_privileges,
       (SELECT pg_catalog.json_build_object('ssl', ssl, 'version', coalesce(version, ''),
                                            'cipher', coalesce(cipher, ''))
          FROM pg_catalog.pg_stat_ssl WHERE pid = pg_catalog.pg_backend_pid()) AS tls,
       (SELECT coalesce(pg_catalog.json_object_agg(extname, extversion), '{}')
          FROM pg_catalog.pg_extension WHERE extname = ANY({extensions})) AS extensions,
       (SELECT coalesce(pg_catalog.json_agg(name), '[]')
          FROM pg_catalog.pg_available_extensions WHERE name = ANY({extensions})) AS offered,
       pg_catalog.to_regclass(pg_catalog.quote_ident({tenancy}) || '.context_keys') IS NOT NULL AS context_key_table,
       NULLIF(pg_catalog.current_setting('tenantdb.pg_stat_statements', true), '')::json
         AS pg_stat_statements
