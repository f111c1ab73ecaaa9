-- 040_tenancy.sql: the foundation of tenant isolation.
--
-- Schema tenancy (the toolkit's own, owned by the master) holds
-- tenancy.current_tenant_id(): the current tenant's id as uuid, read from the
-- session setting app.current_tenant. Row-level security policies use it as
--
--     USING (tenant_id = (SELECT tenancy.current_tenant_id()))
--
-- (the sub-select makes it run once per statement, not once per row).
CREATE SCHEMA IF NOT EXISTS {tenancy};
REVOKE ALL ON SCHEMA {tenancy} FROM PUBLIC;
GRANT USAGE ON SCHEMA {tenancy} TO {app_role};

-- Fails closed: unset (NULL), empty ('' is what PostgreSQL returns once the
-- setting has existed in the session) or anything but a canonical uuid gives
-- NULL, so "tenant_id = NULL" matches no row. It never raises, so a malformed
-- value cannot leak detail through an error. A plain STABLE SQL function with
-- no SET clause, so the planner can inline it. Every name is qualified with
-- pg_catalog so the caller's search_path cannot redirect it.
CREATE OR REPLACE FUNCTION {tenancy}.current_tenant_id()
  RETURNS uuid
  LANGUAGE sql
  STABLE
  PARALLEL SAFE
AS $tenantdb$
  SELECT CASE
    WHEN pg_catalog.current_setting({tenant_setting}, true)
         OPERATOR(pg_catalog.~) '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$'
    THEN pg_catalog.current_setting({tenant_setting}, true)::pg_catalog.uuid
  END
$tenantdb$;

COMMENT ON FUNCTION {tenancy}.current_tenant_id() IS
  'The current tenant (uuid) from the tenant setting; NULL when unset, empty or malformed (fails closed).';

REVOKE ALL ON FUNCTION {tenancy}.current_tenant_id() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {tenancy}.current_tenant_id() TO {app_role};
