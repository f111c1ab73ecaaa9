-- 060_enable_isolation.sql: tenancy.enable_isolation(tbl), the one way a
-- table with a tenant_id column becomes tenant-isolated.
--
-- The application's migrations (running as app_migrator, the tables' owner)
-- call it right after CREATE TABLE:
--
--     CREATE TABLE tenant_acme.projects (id bigint GENERATED ALWAYS AS IDENTITY,
--                                        tenant_id uuid NOT NULL, name text);
--     SELECT tenancy.enable_isolation('tenant_acme.projects');
--
-- On the table, and on every partition of a partitioned table (row security
-- on the parent does not protect a partition queried directly), it:
--   1. enables AND forces row security (FORCE: the owner is bound too);
--   2. creates policy tenant_isolation, permissive, FOR ALL, TO PUBLIC. In a
--      tenant schema (name starting with the tenant schema prefix) the policy
--      binds both the row and the context to that schema's tenant:
--        USING      (tenant_id = (SELECT tenancy.bind_schema(tenancy.current_tenant_id(), 'tenant_acme')))
--        WITH CHECK (the same)
--      so in acme's context a table in tenant_globex shows and accepts
--      nothing, whatever tenant_id a row carries (the schema is a wall). On a
--      shared table (tenant_id column, any other schema):
--        USING      (tenant_id = (SELECT tenancy.current_tenant_id()))
--        WITH CHECK (the same)
--      The sub-select makes the functions run once per statement (an
--      InitPlan) instead of once per row, and lets the planner use the
--      tenant_id index. The policy carries the schema's name, never a tenant
--      id: catalog text is readable by every role.
--   3. creates policy platform_admin_access, permissive, FOR ALL, TO
--      platform_admin only, USING (true) WITH CHECK (true): the platform-admin
--      path, through explicit policies rather than BYPASSRLS (which the RDS
--      master cannot grant on PostgreSQL 15).
-- and on the table itself creates an index on tenant_id when no index leads
-- with it (on a partitioned table the index cascades to every partition).
-- It is idempotent: calling it again re-creates the two policies identically
-- and covers partitions attached since.
--
-- SECURITY INVOKER on purpose: the caller must own the table (the migrator
-- owns tenant tables), so the function gives nobody a power they did not
-- have. A SECURITY DEFINER version would need an owner with power over every
-- table, an escalation path if the function were ever wrong. search_path is
-- pinned (pg_catalog, then pg_temp last) so no caller-controlled schema can
-- redirect a name it uses.
-- tenancy.bind_schema(tenant, schema): tenant when it is the tenant registered
-- for schema, else NULL. The tenant policy of a table in a tenant schema
-- compares tenant_id with it, so a context and a schema of different tenants
-- match no row. SECURITY DEFINER because app_user may not read the registry
-- (the list of every tenant id is itself cross-tenant information); it
-- answers only for the tenant it is given, which the policy takes from
-- tenancy.current_tenant_id(), so it works whatever that function's body
-- (plain or signed context). It tells a caller nothing new: whether an id it
-- already holds belongs to a schema. search_path pinned; every name qualified.
-- PL/pgSQL, not SQL: a SQL function with a SET clause is never inlined, so
-- it was parsed and planned again on every statement; PL/pgSQL keeps the
-- query's plan for the session. No context: NULL without touching the table.
CREATE OR REPLACE FUNCTION {tenancy}.bind_schema(tenant uuid, schema_name name)
  RETURNS uuid
  LANGUAGE plpgsql
  STABLE
  SECURITY DEFINER
  SET search_path = pg_catalog, pg_temp
AS $tenantdb$
DECLARE
  bound pg_catalog.uuid;
BEGIN
  IF tenant IS NULL THEN
    RETURN NULL;
  END IF;
  SELECT t.tenant_id INTO bound FROM {tenancy}.tenants t
   WHERE t.schema_name OPERATOR(pg_catalog.=) bind_schema.schema_name::pg_catalog.text
     AND t.tenant_id OPERATOR(pg_catalog.=) bind_schema.tenant;
  RETURN bound;
END
$tenantdb$;

COMMENT ON FUNCTION {tenancy}.bind_schema(uuid, name) IS
  'The tenant when it is the one registered for the schema, else NULL: binds a tenant schema''s policies to its tenant.';

REVOKE ALL ON FUNCTION {tenancy}.bind_schema(uuid, name) FROM PUBLIC;
-- app_user here; the migrator, platform_admin and the reporting role (created
-- later, by the tenancy-roles step) get it from the role model.
GRANT EXECUTE ON FUNCTION {tenancy}.bind_schema(uuid, name) TO {app_role};

CREATE OR REPLACE FUNCTION {tenancy}.enable_isolation(tbl pg_catalog.regclass)
  RETURNS void
  LANGUAGE plpgsql
  SECURITY INVOKER
  SET search_path = pg_catalog, pg_temp
AS $tenantdb$
DECLARE
  app_role      constant name := {app_role_name};
  migrator_role constant name := {migrator_role_name};
  admin_role    constant name := {platform_admin_role_name};
  tenancy       constant name := {tenancy_schema_name};
  prefix        constant text := {tenant_schema_prefix};
  tenant_expr   text;
  root record;
  col  record;
  rel  record;
BEGIN
  SELECT c.oid, n.nspname, c.relname, c.relkind INTO root
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
  IF root.relkind NOT IN ('r', 'p') THEN
    RAISE EXCEPTION 'enable_isolation: % is not a table', tbl
      USING ERRCODE = 'wrong_object_type', HINT = 'call it on a table or a partitioned table';
  END IF;

  SELECT a.attnum, a.atttypid INTO col
    FROM pg_attribute a WHERE a.attrelid = tbl AND a.attname = 'tenant_id' AND NOT a.attisdropped;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'enable_isolation: % has no tenant_id column', tbl
      USING ERRCODE = 'undefined_column', HINT = 'add "tenant_id uuid NOT NULL", then call enable_isolation again';
  END IF;
  IF col.atttypid <> 'uuid'::regtype THEN
    RAISE EXCEPTION 'enable_isolation: %.tenant_id is %, not uuid', tbl, col.atttypid::regtype
      USING ERRCODE = 'datatype_mismatch', HINT = 'tenant ids are uuids (tenancy.current_tenant_id() returns uuid)';
  END IF;

  -- The table and, when partitioned, every partition below it (pg_partition_tree
  -- returns nothing for a plain table).
  FOR rel IN
    SELECT c.oid, n.nspname, c.relname, c.relrowsecurity, c.relforcerowsecurity, c.relowner
      FROM (SELECT tbl AS relid UNION SELECT relid FROM pg_partition_tree(tbl)) t
      JOIN pg_class c ON c.oid = t.relid
      JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE c.relkind IN ('r', 'p')
  LOOP
    -- An owner can switch row security off: app_user must never own an isolated table.
    IF pg_has_role(app_role, rel.relowner, 'MEMBER') THEN
      RAISE EXCEPTION 'enable_isolation: %.% is owned by %, which % can act as; an owner can switch row security off',
            rel.nspname, rel.relname, pg_get_userbyid(rel.relowner), app_role
        USING ERRCODE = 'insufficient_privilege',
              HINT = format('ALTER TABLE %I.%I OWNER TO %I', rel.nspname, rel.relname, migrator_role);
    END IF;
    IF NOT (rel.relrowsecurity AND rel.relforcerowsecurity) THEN
      EXECUTE format('ALTER TABLE %I.%I ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY',
                     rel.nspname, rel.relname);
    END IF;
    IF starts_with(rel.nspname, prefix) THEN
      tenant_expr := format('(tenant_id = (SELECT %I.bind_schema(%I.current_tenant_id(), %L)))',
                            tenancy, tenancy, rel.nspname);
    ELSE
      tenant_expr := format('(tenant_id = (SELECT %I.current_tenant_id()))', tenancy);
    END IF;
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I.%I', rel.nspname, rel.relname);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I.%I AS PERMISSIVE FOR ALL TO PUBLIC '
                   'USING %s WITH CHECK %s', rel.nspname, rel.relname, tenant_expr, tenant_expr);
    EXECUTE format('DROP POLICY IF EXISTS platform_admin_access ON %I.%I', rel.nspname, rel.relname);
    EXECUTE format('CREATE POLICY platform_admin_access ON %I.%I AS PERMISSIVE FOR ALL TO %I '
                   'USING (true) WITH CHECK (true)', rel.nspname, rel.relname, admin_role);
  END LOOP;

  -- Policies filter on tenant_id: without an index leading with it every statement scans.
  IF NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = tbl AND i.indkey[0] = col.attnum) THEN
    EXECUTE format('CREATE INDEX ON %I.%I (tenant_id)', root.nspname, root.relname);
  END IF;
END
$tenantdb$;

COMMENT ON FUNCTION {tenancy}.enable_isolation(pg_catalog.regclass) IS
  'Enable and force row security on a tenant_id table (and every partition), with the tenant policy, the platform-admin policy and a tenant_id index. Idempotent.';

-- Only the migrator may call it (granted by the tenancy-roles step).
REVOKE ALL ON FUNCTION {tenancy}.enable_isolation(pg_catalog.regclass) FROM PUBLIC;
