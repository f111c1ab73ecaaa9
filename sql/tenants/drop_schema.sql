-- tenants/drop_schema.sql: `tenant drop`, as the master, once confirmed and nothing outside depends
-- on it: the tenant's schema and everything in it.
DROP SCHEMA {schema} CASCADE
