-- 060_enable_isolation.sql: tenancy.enable_isolation(tbl), the one way a
-- table becomes tenant-isolated: a table with a tenant_id column anywhere, and
-- a table without one in a tenant schema (settings untenanted_tables).
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
--      binds both the row and the context to that schema's registered tenant:
--        USING      (tenant_id = (SELECT tenancy.bound_tenant(tenancy.current_tenant_id(),
--                                  'tenant_acme', '\x<binding>')))
--        WITH CHECK (the same)
--      where <binding> is sha256('tenant_acme:<acme's id>'), read from the
--      registry when enable_isolation runs. So in acme's context a table in
--      tenant_globex shows and accepts nothing, whatever tenant_id a row
--      carries (the schema is a wall). On a shared table (tenant_id column,
--      any other schema):
--        USING      (tenant_id = (SELECT tenancy.current_tenant_id()))
--        WITH CHECK (the same)
--      The sub-select makes the functions run once per statement (an
--      InitPlan) instead of once per row, and lets the planner use the
--      tenant_id index. The policy carries the schema's name and a digest,
--      never a tenant id: catalog text is readable by every role.
--   3. creates policy platform_admin_access, permissive, FOR ALL, TO
--      platform_admin only, USING (true) WITH CHECK (true): the platform-admin
--      path, through explicit policies rather than BYPASSRLS (which the RDS
--      master cannot grant on PostgreSQL 15).
-- and on the table itself creates an index on tenant_id when no index leads
-- with it (on a partitioned table the index cascades to every partition).
--
-- A table WITHOUT tenant_id in a tenant schema (what settings
-- untenanted_tables allows: reference data, a per-tenant settings table) is
-- bound to the schema's tenant as a whole, rows carry no tenant:
--   USING      ((SELECT tenancy.bound_tenant(tenancy.current_tenant_id(),
--                 'tenant_acme', '\x<binding>'::bytea)) IS NOT NULL)
--   WITH CHECK (the same)
-- so only acme's context (or platform_admin) reads or writes it; another
-- tenant's context, or none, sees and writes nothing. No tenant_id index.
-- Outside tenant schemas a table without tenant_id is refused.
-- It is idempotent: calling it again re-creates the two policies identically
-- and covers partitions attached since.
--
-- SECURITY INVOKER on purpose: the caller must own the table (the migrator
-- owns tenant tables), so the function gives nobody a power they did not
-- have. A SECURITY DEFINER version would need an owner with power over every
-- table, an escalation path if the function were ever wrong. search_path is
-- pinned (pg_catalog, then pg_temp last) so no caller-controlled schema can
-- redirect a name it uses.
-- tenancy.bound_tenant(tenant, schema, binding): tenant when sha256 of
-- '<schema>:<tenant>' is the binding enable_isolation wrote into the schema's
-- policies, else NULL. So a context and a schema of different tenants match no
-- row, at the cost of one sha256 per statement (the policy's InitPlan): no
-- registry lookup, no user switch. A plain SQL function without a SET clause,
-- so the planner inlines it; every name in it is qualified with pg_catalog, so
-- no search_path reaches it.
-- What the digest tells a reader of the catalog: whether a tenant id it
-- already holds belongs to the schema; uuids are random, so it cannot be
-- turned back into an id (ISO-ID-LEAK still finds no id in catalog text).
CREATE OR REPLACE FUNCTION {tenancy}.bound_tenant(tenant uuid, schema_name name, binding bytea)
  RETURNS uuid
  LANGUAGE sql
  STABLE
  PARALLEL SAFE
AS $tenantdb$
  SELECT CASE
    WHEN pg_catalog.sha256(pg_catalog.convert_to(
           schema_name::pg_catalog.text OPERATOR(pg_catalog.||) ':' OPERATOR(pg_catalog.||) tenant::pg_catalog.text,
           'UTF8')) OPERATOR(pg_catalog.=) binding
    THEN tenant
  END
$tenantdb$;

COMMENT ON FUNCTION {tenancy}.bound_tenant(uuid, name, bytea) IS
  'The tenant when sha256(schema:tenant) is the schema''s binding, else NULL: binds a tenant schema''s policies to its tenant.';

REVOKE ALL ON FUNCTION {tenancy}.bound_tenant(uuid, name, bytea) FROM PUBLIC;
-- app_user here; the migrator, platform_admin and the reporting role (created
-- later, by the tenancy-roles step) get it from the role model.
GRANT EXECUTE ON FUNCTION {tenancy}.bound_tenant(uuid, name, bytea) TO {app_role};

-- The registry-lookup binding of earlier releases (a SECURITY DEFINER function
-- per statement). A policy still calling it fails ISO-POLICY-EXACT with the fix
-- (enable_isolation again); once none does, it goes.
DO $tenantdb$
BEGIN
  IF to_regprocedure(quote_ident({tenancy_schema_name}) || '.bind_schema(uuid, name)') IS NOT NULL
     AND NOT EXISTS (SELECT FROM pg_depend d
                      WHERE d.classid = 'pg_policy'::regclass AND d.refclassid = 'pg_proc'::regclass
                        AND d.refobjid = to_regprocedure(quote_ident({tenancy_schema_name}) || '.bind_schema(uuid, name)')) THEN
    EXECUTE format('DROP FUNCTION %I.bind_schema(uuid, name)', {tenancy_schema_name});
  END IF;
END
$tenantdb$;

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
  binding       bytea;
  untenanted    boolean;
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
  untenanted := NOT FOUND;
  IF untenanted AND NOT starts_with(root.nspname, prefix) THEN
    RAISE EXCEPTION 'enable_isolation: % has no tenant_id column', tbl
      USING ERRCODE = 'undefined_column', HINT = 'add "tenant_id uuid NOT NULL", then call enable_isolation again';
  END IF;
  IF NOT untenanted AND col.atttypid <> 'uuid'::regtype THEN
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
    -- A partition of an untenanted table attached from outside the tenant schemas has no tenant to bind to.
    IF untenanted AND NOT starts_with(rel.nspname, prefix) THEN
      RAISE EXCEPTION 'enable_isolation: %.% has no tenant_id column and is not in a tenant schema',
            rel.nspname, rel.relname
        USING ERRCODE = 'undefined_column', HINT = 'add "tenant_id uuid NOT NULL", then call enable_isolation again';
    END IF;
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
      -- The schema's tenant, read once here (the migrator may read the registry) and
      -- written into the policy as a digest, never as the id.
      EXECUTE format('SELECT sha256(convert_to(t.schema_name || '':'' || t.tenant_id::text, ''UTF8'')) '
                     'FROM %I.tenants t WHERE t.schema_name = $1', tenancy)
         INTO binding USING rel.nspname::text;
      IF binding IS NULL THEN
        RAISE EXCEPTION 'enable_isolation: schema % has no registered tenant', rel.nspname
          USING ERRCODE = 'no_data_found',
                HINT = 'create tenant schemas with tenantdb tenant create SLUG, which registers the tenant first';
      END IF;
      IF untenanted THEN
        -- The whole table is the schema's tenant's: only its context passes.
        tenant_expr := format('((SELECT %I.bound_tenant(%I.current_tenant_id(), %L, %L::bytea)) IS NOT NULL)',
                              tenancy, tenancy, rel.nspname, binding);
      ELSE
        tenant_expr := format('(tenant_id = (SELECT %I.bound_tenant(%I.current_tenant_id(), %L, %L::bytea)))',
                              tenancy, tenancy, rel.nspname, binding);
      END IF;
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
  IF NOT untenanted AND NOT EXISTS (SELECT FROM pg_index i WHERE i.indrelid = tbl AND i.indkey[0] = col.attnum) THEN
    EXECUTE format('CREATE INDEX ON %I.%I (tenant_id)', root.nspname, root.relname);
  END IF;
END
$tenantdb$;

COMMENT ON FUNCTION {tenancy}.enable_isolation(pg_catalog.regclass) IS
  'Enable and force row security on a tenant_id table, or an untenanted table in a tenant schema (and every partition), with the tenant policy, the platform-admin policy and a tenant_id index (tenant_id tables). Idempotent.';

-- Only the migrator may call it (granted by the tenancy-roles step).
REVOKE ALL ON FUNCTION {tenancy}.enable_isolation(pg_catalog.regclass) FROM PUBLIC;
