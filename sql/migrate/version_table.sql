-- version_table.sql: the revisions in one tenant's Alembic version table, as
-- the migrator, under the tenant's lock (before the revisions, to compare with
-- the registry's record; after them, to record what Alembic wrote).
-- {version_table}: the schema-qualified table.
SELECT c.version_num::pg_catalog.text FROM {version_table} c ORDER BY 1
