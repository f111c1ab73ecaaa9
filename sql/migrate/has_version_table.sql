-- has_version_table.sql: whether a tenant schema has its Alembic version table,
-- as the migrator, under the tenant's lock (after lock.sql, in a statement of
-- its own so it sees what a run that held the lock before committed).
-- Parameters: schema, version_table.
SELECT EXISTS (SELECT FROM pg_catalog.pg_class c
                 JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) c.relnamespace
                WHERE n.nspname OPERATOR(pg_catalog.=) %(schema)s
                  AND c.relname OPERATOR(pg_catalog.=) %(version_table)s
                  AND c.relkind OPERATOR(pg_catalog.=) 'r')
