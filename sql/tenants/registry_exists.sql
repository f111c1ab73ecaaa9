-- tenants/registry_exists.sql: whether the tenant registry (tenancy.tenants) exists, as the master,
-- before any `tenant create|list|drop` touches it. Parameter: the tenancy schema's name.
SELECT EXISTS (SELECT FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %s AND c.relname = 'tenants')
