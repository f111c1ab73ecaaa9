-- lock.sql: migrate's per-tenant mutual exclusion, right after begin.sql, as
-- the migrator: the tenant's registry row, locked FOR UPDATE until the
-- tenant's transaction ends (the migrator's UPDATE on the revisions column
-- makes the lock legal; app_user can neither read nor lock the registry, so
-- it cannot hold a tenant's migrations back). A second run on the same tenant
-- waits here (under lock_timeout), then gets the row as the first one left
-- it: the registry's record of the tenant's revisions (NULL: not recorded
-- yet). Anything else about the tenant is read by the NEXT statement: this
-- one's snapshot predates the wait, so it would miss what the first run made.
-- Parameter: tenant_id. {registry}: tenancy.tenants.
SELECT t.revisions
FROM {registry} t
WHERE t.tenant_id OPERATOR(pg_catalog.=) %(tenant_id)s::pg_catalog.uuid
FOR UPDATE OF t
