-- 020_database_grants.state.sql: the explicit grants 020_database_grants.sql manages, as one row.
SELECT coalesce((SELECT string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)
                 FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) a
                 WHERE d.datname = {db_name_name}
                   AND a.grantee = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = {app_role_name})),
                'none') AS grants_on_database,
       coalesce((SELECT string_agg(a.privilege_type, ', ' ORDER BY a.privilege_type)
                 FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) a
                 WHERE n.nspname = 'public' AND a.grantee = 0),
                'none') AS public_grants_on_schema_public;
