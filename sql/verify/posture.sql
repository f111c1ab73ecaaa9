-- verify/posture.sql: the ISO-* tenant-isolation posture, read from the catalog in one
-- read-only statement (tenantdb/verify/posture.py runs it as the master, search_path
-- pinned to pg_catalog, pg_temp).
--
-- Rows: (check_id, object, problem, fix) for every finding, and rows tagged COUNT with
-- what was examined. Brace placeholders are filled by tenantdb through psycopg.sql:
-- role and schema names as literals, {privileged}, {allowed}, {app_roles}, {powerful},
-- {untenanted} as text arrays, {version_table} as a literal, {tenancy} as the toolkit's
-- schema (identifier). The CTEs from "scope" to "pinned" are the dependency part of
-- sql/tenants/pins.sql, composed in: the one judgement of a pin (`tenant drop` refuses over
-- the same), here over every tenant schema.
--
-- Scope: every table in a tenant schema (prefix or registered) and every table with a
-- tenant_id column in a non-system schema, except the registry {tenancy}.tenants. In tenant
-- schemas the tables {untenanted} names (Alembic's version table {version_table} plus
-- settings.untenanted_tables) are "exempt" when they have no tenant_id column: they may stay
-- without row security (no ISO-RLS finding), but then app_user may not write them
-- (ISO-WRITE); and app_user may hold no privilege at all on the version table.
--
-- Set-based throughout (no per-table loop): it runs over every tenant schema at once.

WITH
ctx AS (
  SELECT r.oid AS app,
         (SELECT p.oid FROM pg_proc p WHERE p.pronamespace = (SELECT oid FROM pg_namespace WHERE nspname = {tenancy_schema_name}::text)
            AND p.proname = 'current_tenant_id' AND p.pronargs = 0) AS ctf,
         (SELECT c.oid FROM pg_class c WHERE c.relname = 'tenants'
            AND c.relnamespace = (SELECT oid FROM pg_namespace WHERE nspname = {tenancy_schema_name}::text)) AS registry,
         (SELECT oid FROM pg_namespace WHERE nspname = {tenancy_schema_name}::text) AS tenancy,
         (SELECT nspowner FROM pg_namespace WHERE nspname = {tenancy_schema_name}::text) AS tenancy_owner
  FROM pg_roles r WHERE r.rolname = {app_role_name}::text
),
tenant_schemas AS (
  SELECT n.oid, n.nspname, n.nspowner FROM pg_namespace n
  WHERE starts_with(n.nspname, {tenant_schema_prefix}::text) OR n.nspname IN (SELECT schema_name FROM {tenancy}.tenants)
),
scoped_all AS (   -- names are rendered only for findings: regclass output per table costs at scale
  SELECT c.oid, c.relkind, c.relispartition, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced, c.relowner,
         c.relnamespace, c.relname, c.relnamespace IN (SELECT oid FROM tenant_schemas) AS in_tenant,
         c.oid IN (SELECT a.attrelid FROM pg_attribute a WHERE a.attname = 'tenant_id' AND NOT a.attisdropped)
           AS has_tenant_id
  FROM pg_class c, ctx
  WHERE c.relkind IN ('r', 'p')
    AND c.relnamespace NOT IN (SELECT oid FROM pg_namespace WHERE nspname IN ('pg_catalog', 'information_schema')
                               OR nspname ~ '^pg_(toast|temp_)')
    AND c.oid IS DISTINCT FROM ctx.registry
    AND (c.relnamespace IN (SELECT oid FROM tenant_schemas)
         OR c.oid IN (SELECT a.attrelid FROM pg_attribute a WHERE a.attname = 'tenant_id' AND NOT a.attisdropped))
),
scoped AS (
  SELECT s.*, s.in_tenant AND NOT s.has_tenant_id AND s.relname::text = ANY ({untenanted}::text[]) AS exempt,
         s.in_tenant AND s.relname::text = {version_table}::text AS version_table
  FROM scoped_all s
),
pol AS (   -- policies on scoped tables that app_user is subject to (expressions deparsed only for findings)
  SELECT p.oid, p.polrelid, p.polname, p.polpermissive, p.polcmd, p.polqual, p.polwithcheck,
         p.oid IN (SELECT d.objid FROM pg_depend d WHERE d.classid = 'pg_policy'::regclass
                     AND d.refclassid = 'pg_proc'::regclass AND d.refobjid = (SELECT ctf FROM ctx)) AS uses_ctx,
         -- a top-level constant (USING (true)): the only always-true form the catalog shows without deparsing
         left(p.polqual::text, 7) = chr(123) || 'CONST ' OR left(p.polwithcheck::text, 7) = chr(123) || 'CONST '
           AS constant
  FROM pg_policy p, ctx
  WHERE p.polrelid IN (SELECT oid FROM scoped)
    AND (0 = ANY (p.polroles) OR EXISTS (SELECT FROM unnest(p.polroles) pr WHERE pg_has_role(ctx.app, pr, 'USAGE')))
),
isolated AS (
  SELECT s.* FROM scoped s
  WHERE s.rls AND s.forced AND EXISTS (SELECT FROM pol WHERE pol.polrelid = s.oid AND pol.polpermissive AND pol.uses_ctx)
),
views AS (   -- views and materialized views reading scoped tables, directly or through other views
  SELECT DISTINCT r.ev_class AS view, d.refobjid AS base
  FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
  WHERE d.classid = 'pg_rewrite'::regclass AND d.refclassid = 'pg_class'::regclass
    AND r.ev_class <> d.refobjid
    -- IS TRUE keeps this a hashed filter: as a semi-join the planner (CTE row counts unknown to it)
    -- looped every rewrite rule over every scoped table
    AND (d.refobjid IN (SELECT oid FROM scoped)) IS TRUE
),
all_views AS (
  WITH RECURSIVE v(view) AS (
    SELECT view FROM views
    UNION
    SELECT r.ev_class FROM v JOIN pg_depend d ON d.refobjid = v.view AND d.refclassid = 'pg_class'::regclass
      AND d.classid = 'pg_rewrite'::regclass JOIN pg_rewrite r ON r.oid = d.objid
    WHERE r.ev_class <> v.view)
  SELECT DISTINCT view FROM v
),
bindings AS (   -- each registered schema's binding, as a bytea literal the way pg_get_expr shows it
  SELECT t.schema_name, '''' || sha256(convert_to(t.schema_name || ':' || t.tenant_id::text, 'UTF8'))::text || ''''
           AS binding
  FROM {tenancy}.tenants t
),
allpol AS (   -- every policy on a scoped table, deparsed once (the exact-policy and id checks share it)
  SELECT p.oid, p.polrelid, p.polname, p.polcmd, p.polpermissive, p.polroles,
         pg_get_expr(p.polqual, p.polrelid) AS qual, pg_get_expr(p.polwithcheck, p.polrelid) AS wcheck,
         CASE WHEN p.polname = 'platform_admin_access' THEN 'true'
              -- the binding as enable_isolation wrote it: sha256 of '<schema>:<registered id>'
              WHEN starts_with(n.nspname, {tenant_schema_prefix}::text) AND s.has_tenant_id
              THEN format('(tenant_id = ( SELECT %s.bound_tenant(%s.current_tenant_id(), %s::name, %s::bytea) AS bound_tenant))',
                          quote_ident({tenancy_schema_name}::text), quote_ident({tenancy_schema_name}::text),
                          quote_literal(n.nspname), b.binding)
              -- a table without tenant_id is bound as a whole: every row, in its schema's tenant's context only
              WHEN starts_with(n.nspname, {tenant_schema_prefix}::text)
              THEN format('(( SELECT %s.bound_tenant(%s.current_tenant_id(), %s::name, %s::bytea) AS bound_tenant) IS NOT NULL)',
                          quote_ident({tenancy_schema_name}::text), quote_ident({tenancy_schema_name}::text),
                          quote_literal(n.nspname), b.binding)
              ELSE format('(tenant_id = ( SELECT %s.current_tenant_id() AS current_tenant_id))',
                          quote_ident({tenancy_schema_name}::text)) END AS expected,
         CASE WHEN p.polname = 'platform_admin_access'
              THEN ARRAY[(SELECT oid FROM pg_roles WHERE rolname = {platform_admin_role_name}::text)]::oid[]
              ELSE '{0}'::oid[] END AS expected_roles
  FROM pg_policy p JOIN scoped s ON s.oid = p.polrelid JOIN pg_namespace n ON n.oid = s.relnamespace
       LEFT JOIN bindings b ON b.schema_name = n.nspname::text
),
reach AS (   -- the roles whose privileges app_user can use: itself and every role it is a member of
  SELECT r.oid FROM pg_roles r, ctx WHERE pg_has_role(ctx.app, r.oid, 'MEMBER')
),
writable AS (   -- tables in tenant schemas without row security in force, and the version tables,
                -- with what app_user (directly, through a role or PUBLIC; columns count) may do there
  SELECT s.oid, s.version_table,
         ARRAY(SELECT p.priv
               FROM unnest(CASE WHEN s.version_table
                                THEN ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']
                                ELSE ARRAY['INSERT', 'UPDATE', 'DELETE', 'TRUNCATE'] END) WITH ORDINALITY p(priv, n)
               WHERE EXISTS (SELECT FROM reach r
                             WHERE CASE WHEN p.priv IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES')
                                        THEN has_any_column_privilege(r.oid, s.oid, p.priv)
                                        ELSE has_table_privilege(r.oid, s.oid, p.priv) END)
               ORDER BY p.n) AS privs
  FROM scoped s
  WHERE s.in_tenant AND (s.version_table OR s.oid NOT IN (SELECT oid FROM isolated))
),
sequences AS (   -- sequences in tenant schemas and what app_user may do with each
  SELECT c.oid,
         ARRAY(SELECT p.priv FROM unnest(ARRAY['SELECT', 'UPDATE', 'USAGE']) WITH ORDINALITY p(priv, n)
               WHERE EXISTS (SELECT FROM reach r WHERE has_sequence_privilege(r.oid, c.oid, p.priv))
               ORDER BY p.n) AS privs
  FROM pg_class c
  WHERE c.relkind = 'S' AND c.relnamespace IN (SELECT oid FROM tenant_schemas)
),
scope AS (SELECT oid FROM tenant_schemas),   -- whose objects tenants/pins.sql's part below judges pins of
{pinned},
app_schemas AS (   -- schemas app_user owns (or can act as the owner of)
  SELECT n.oid, n.nspname FROM pg_namespace n, ctx
  WHERE pg_has_role(ctx.app, n.nspowner, 'USAGE') AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
),
app_routines AS (   -- functions, aggregates and operators there: what a trojan is made of
  SELECT 'function ' || p.oid::regprocedure::text AS object, p.proname::text AS name,
         EXISTS (SELECT FROM pg_proc b WHERE b.pronamespace = 'pg_catalog'::regnamespace AND b.proname = p.proname)
           AS shadows
  FROM pg_proc p WHERE p.pronamespace IN (SELECT oid FROM app_schemas)
  UNION ALL
  SELECT 'operator ' || o.oid::regoperator::text, o.oprname::text,
         EXISTS (SELECT FROM pg_operator b WHERE b.oprnamespace = 'pg_catalog'::regnamespace AND b.oprname = o.oprname)
  FROM pg_operator o WHERE o.oprnamespace IN (SELECT oid FROM app_schemas)
),
catalog_text(object, body) AS (   -- catalog text every role can read, where a tenant id must never be
  SELECT 'default of ' || d.adrelid::regclass::text || '.' || quote_ident(a.attname), pg_get_expr(d.adbin, d.adrelid)
  FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
  WHERE d.adrelid >= 16384
  UNION ALL
  SELECT 'partition bound of ' || c.oid::regclass::text, pg_get_expr(c.relpartbound, c.oid)
  FROM pg_class c WHERE c.relispartition
  UNION ALL
  SELECT 'view ' || c.oid::regclass::text, pg_get_viewdef(c.oid)
  FROM pg_class c WHERE c.relkind IN ('v', 'm') AND c.oid >= 16384
  UNION ALL
  SELECT 'check constraint ' || quote_ident(co.conname) || ' on ' || co.conrelid::regclass::text, pg_get_constraintdef(co.oid)
  FROM pg_constraint co WHERE co.contype = 'c' AND co.oid >= 16384
  UNION ALL
  SELECT 'function ' || p.oid::regprocedure::text, p.prosrc FROM pg_proc p WHERE p.oid >= 16384
  UNION ALL
  SELECT 'comment on ' || pg_describe_object(d.classoid, d.objoid, d.objsubid), d.description
  FROM pg_description d WHERE d.objoid >= 16384
  UNION ALL
  SELECT 'policy ' || quote_ident(p.polname) || ' on ' || p.polrelid::regclass::text, concat_ws(' ', p.qual, p.wcheck)
  FROM allpol p WHERE p.qual IS DISTINCT FROM p.expected OR p.wcheck IS DISTINCT FROM p.expected
  UNION ALL
  SELECT 'name of ' || c.oid::regclass::text, c.relname::text FROM pg_class c WHERE c.oid >= 16384
  UNION ALL
  SELECT 'name of schema ' || quote_ident(n.nspname), n.nspname::text FROM pg_namespace n WHERE n.oid >= 16384
  UNION ALL
  SELECT 'settings of role ' || coalesce(pg_get_userbyid(NULLIF(s.setrole, 0))::text, 'every role'),
         array_to_string(s.setconfig, ' ')
  FROM pg_db_role_setting s
),
leaked AS (
  SELECT DISTINCT t.object, m[1]::uuid AS tenant_id
  FROM catalog_text t,
       regexp_matches(lower(t.body), '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}', 'g') m
),
findings(check_id, object, problem, fix) AS (
  -- ISO-RLS / ISO-PARTITION
  SELECT CASE WHEN s.relispartition THEN 'ISO-PARTITION' ELSE 'ISO-RLS' END, s.oid::regclass::text,
         concat_ws(', ', CASE WHEN NOT s.rls THEN 'RLS off' END, CASE WHEN NOT s.forced THEN 'not forced' END,
                   CASE WHEN NOT EXISTS (SELECT FROM pol WHERE pol.polrelid = s.oid AND pol.polpermissive
                                         AND pol.uses_ctx) THEN 'no tenant-context policy' END)
           || CASE WHEN s.relispartition THEN ' (partition of ' || pg_partition_root(s.oid)::regclass::text || ')'
                   ELSE '' END,
         format('SELECT %I.enable_isolation(%L) as its owner', {tenancy_schema_name}::text,
                coalesce(pg_partition_root(s.oid), s.oid)::regclass::text)
           || CASE WHEN NOT s.has_tenant_id THEN ' (it binds every row to the schema''s tenant; or add tenant_id '
                   'uuid NOT NULL first, or list the table in settings untenanted_tables)' ELSE '' END
  FROM scoped s WHERE s.oid NOT IN (SELECT oid FROM isolated) AND NOT s.exempt
  UNION ALL
  -- ISO-OWNER
  SELECT 'ISO-OWNER', s.oid::regclass::text, 'owned by ' || pg_get_userbyid(s.relowner) || CASE WHEN s.relowner <> ctx.app
           THEN ', which ' || {app_role_name}::text || ' can act as' ELSE '' END,
         CASE WHEN s.relowner = ctx.app THEN format('ALTER TABLE %s OWNER TO %I', s.oid::regclass::text, {migrator_role_name}::text)
              ELSE format('REVOKE %I FROM %I', pg_get_userbyid(s.relowner), {app_role_name}::text) END
  FROM scoped s, ctx WHERE pg_has_role(ctx.app, s.relowner, 'MEMBER')
  UNION ALL
  SELECT 'ISO-OWNER', 'schema ' || quote_ident(t.nspname), 'owned by ' || pg_get_userbyid(t.nspowner)
           || CASE WHEN t.nspowner <> ctx.app THEN ', which ' || {app_role_name}::text || ' can act as' ELSE '' END,
         CASE WHEN t.nspowner = ctx.app THEN format('ALTER SCHEMA %I OWNER TO %I', t.nspname, {migrator_role_name}::text)
              ELSE format('REVOKE %I FROM %I', pg_get_userbyid(t.nspowner), {app_role_name}::text) END
  FROM tenant_schemas t, ctx WHERE pg_has_role(ctx.app, t.nspowner, 'MEMBER')
  UNION ALL
  -- ISO-GRANTS
  SELECT 'ISO-GRANTS', s.oid::regclass::text, 'app_user may ' || string_agg(p.priv, ', ' ORDER BY p.priv),
         format('REVOKE %s ON %s FROM %I, PUBLIC', string_agg(p.priv, ', ' ORDER BY p.priv), s.oid::regclass::text, {app_role_name}::text)
  FROM scoped s, ctx, unnest(ARRAY['TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv)
  WHERE has_table_privilege(ctx.app, s.oid, p.priv)
  GROUP BY s.oid::regclass::text
  UNION ALL
  SELECT 'ISO-GRANTS', ctx.registry::regclass::text, 'app_user may ' || string_agg(p.priv, ', ' ORDER BY p.priv),
         format('REVOKE ALL ON %s FROM %I, PUBLIC', ctx.registry::regclass::text, {app_role_name}::text)
  FROM ctx, unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p(priv)
  WHERE ctx.registry IS NOT NULL AND has_table_privilege(ctx.app, ctx.registry, p.priv)
  GROUP BY ctx.registry
  UNION ALL
  -- ISO-WRITE: without row security a write reaches every tenant's rows; the version table is the migrator's
  SELECT 'ISO-WRITE', w.oid::regclass::text,
         {app_role_name}::text || ' may ' || array_to_string(w.privs, ', ')
           || CASE WHEN w.version_table THEN ' on the migration version table (another tenant''s migration state: '
                                             'no privilege at all is needed there)'
                   ELSE ' and row security is not in force there (not enabled and forced with the tenant policy): '
                        'the rows of every tenant' END,
         format('REVOKE %s ON %s FROM %I, PUBLIC (and from any role %I belongs to)',
                CASE WHEN w.version_table THEN 'ALL' ELSE array_to_string(w.privs, ', ') END, w.oid::regclass::text,
                {app_role_name}::text, {app_role_name}::text)
           || CASE WHEN w.version_table THEN ''
                   ELSE format('; or isolate it: SELECT %I.enable_isolation(%L) as its owner', {tenancy_schema_name}::text,
                               coalesce(pg_partition_root(w.oid), w.oid)::regclass::text) END
  FROM writable w WHERE cardinality(w.privs) > 0
  UNION ALL
  -- ISO-PERMISSIVE
  SELECT 'ISO-PERMISSIVE', format('policy %I on %s', pol.polname, pol.polrelid::regclass::text),
         CASE WHEN NOT pol.uses_ctx THEN 'applies to app_user and does not use the tenant context'
              ELSE 'is always true' END || ' (' || coalesce(pg_get_expr(pol.polqual, pol.polrelid),
                                                            pg_get_expr(pol.polwithcheck, pol.polrelid),
                                                            'no expression') || ')',
         format('DROP POLICY %I ON %s (or make it AS RESTRICTIVE, or TO %I only)', pol.polname,
                pol.polrelid::regclass::text, {platform_admin_role_name}::text)
  FROM pol WHERE pol.polpermissive AND (NOT pol.uses_ctx
                                        OR (pol.constant AND 'true' IN (pg_get_expr(pol.polqual, pol.polrelid),
                                                                        pg_get_expr(pol.polwithcheck, pol.polrelid))))
  UNION ALL
  -- ISO-VIEW
  SELECT 'ISO-VIEW', c.oid::regclass::text,
         CASE c.relkind WHEN 'm' THEN 'materialized view: row security does not apply to its readers'
                        ELSE 'view runs with its owner''s rights (' || pg_get_userbyid(c.relowner) || ')' END,
         CASE c.relkind WHEN 'm' THEN format('REVOKE ALL ON %s FROM %I, PUBLIC (or drop it)', c.oid::regclass::text, {app_role_name}::text)
                        ELSE format('ALTER VIEW %s SET (security_invoker = true)', c.oid::regclass::text) END
  FROM all_views v JOIN pg_class c ON c.oid = v.view, ctx
  WHERE (c.relkind = 'v' AND NOT EXISTS (SELECT FROM unnest(c.reloptions) o
                                         WHERE lower(o) IN ('security_invoker=true', 'security_invoker=on',
                                                            'security_invoker=1', 'security_invoker=yes')))
     OR (c.relkind = 'm' AND has_table_privilege(ctx.app, c.oid, 'SELECT'))
  UNION ALL
  -- ISO-PINS: an object outside a tenant schema that depends on it (even a security_invoker view that reads
  -- nothing) makes `tenant drop` and a migration that drops or changes what it uses fail
  SELECT 'ISO-PINS', x.what || ' (owner ' || coalesce(x.owner::text, 'none') || ') depends on '
           || string_agg(DISTINCT x.ref, ', ' ORDER BY x.ref),
         'it pins the tenant''s objects: tenant drop, and a migration that drops or changes what it uses, fail '
           || 'while it exists',
         coalesce(x.fix, 'drop or change it as its owner so that it uses nothing of a tenant schema it is not in')
  FROM (SELECT p.what, p.owner,
               CASE p.refclassid
                 WHEN 'pg_class'::regclass   -- an index (a foreign key's) stands for its table
                 THEN coalesce((SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = p.refobjid), p.refobjid)::regclass::text
                 WHEN 'pg_type'::regclass THEN format_type(p.refobjid, NULL)
                 ELSE p.refobjid::regprocedure::text END AS ref,
               CASE WHEN p.classid = 'pg_rewrite'::regclass
                    THEN format('DROP %s %s as its owner (or make it inside the tenant schema), after finding out '
                                'who made it',
                                CASE (SELECT c.relkind FROM pg_class c WHERE c.oid = p.rel)
                                  WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'VIEW' END, p.rel::regclass::text)
                    WHEN p.classid = 'pg_constraint'::regclass
                    THEN (SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', co.conrelid::regclass::text, co.conname)
                          FROM pg_constraint co WHERE co.oid = p.objid AND co.contype = 'f')
                  END AS fix
        FROM pinned p) x
  GROUP BY x.what, x.owner, x.fix
  UNION ALL
  -- ISO-SUPERUSER
  SELECT 'ISO-SUPERUSER', 'role ' || quote_ident(r.rolname),
         concat_ws(' and ', CASE WHEN r.rolsuper THEN 'SUPERUSER' END, CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END),
         format('ALTER ROLE %I NOSUPERUSER NOBYPASSRLS (as a superuser; on RDS: drop and recreate the role)', r.rolname)
  FROM pg_roles r WHERE (r.rolsuper OR r.rolbypassrls) AND r.rolname <> ALL ({allowed}::text[])
    AND r.rolname <> session_user
  UNION ALL
  -- ISO-MEMBERSHIP
  SELECT 'ISO-MEMBERSHIP', 'role ' || quote_ident(r.rolname), quote_ident({app_role_name}::text) || ' is a member',
         format('REVOKE %I FROM %I (and from any role %I belongs to)', r.rolname, {app_role_name}::text, {app_role_name}::text)
  FROM pg_roles r, ctx WHERE (r.rolname = ANY ({privileged}::text[]) OR r.rolname = session_user)
    AND pg_has_role(ctx.app, r.oid, 'MEMBER')
  UNION ALL
  -- ISO-SECDEF
  SELECT 'ISO-SECDEF', 'function ' || p.oid::regprocedure::text, 'SECURITY DEFINER without SET search_path',
         format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', p.oid::regprocedure::text)
  FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
  WHERE p.prosecdef AND (n.nspname = {tenancy_schema_name}::text OR n.oid IN (SELECT oid FROM tenant_schemas))
    AND NOT EXISTS (SELECT FROM unnest(p.proconfig) c WHERE c LIKE 'search\_path=%')
  UNION ALL
  -- ISO-PUBLIC-CREATE
  SELECT 'ISO-PUBLIC-CREATE', 'schema public', 'PUBLIC may CREATE', 'REVOKE CREATE ON SCHEMA public FROM PUBLIC'
  FROM pg_namespace n, aclexplode(coalesce(n.nspacl, acldefault('n', n.nspowner))) a
  WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE'
  UNION ALL
  -- ISO-POLICY-EXACT: every policy on a scoped table is one enable_isolation generates, exactly
  SELECT 'ISO-POLICY-EXACT', format('policy %I on %s', p.polname, p.polrelid::regclass::text),
         CASE WHEN p.polname NOT IN ('tenant_isolation', 'platform_admin_access')
              THEN 'not a policy the toolkit generates (' || p.polcmd::text || ', USING ' || coalesce(p.qual, 'none')
                   || ', WITH CHECK ' || coalesce(p.wcheck, 'none') || ')'
              ELSE concat_ws('; ',
                CASE WHEN p.polcmd <> '*' THEN 'command ' || p.polcmd::text || ', not ALL' END,
                CASE WHEN NOT p.polpermissive THEN 'restrictive, not permissive' END,
                CASE WHEN p.polroles <> p.expected_roles THEN 'roles '
                     || (SELECT string_agg(CASE WHEN r = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(r)::text END, ', ')
                         FROM unnest(p.polroles) r) || ', not '
                     || CASE WHEN p.polname = 'platform_admin_access' THEN {platform_admin_role_name}::text
                             ELSE 'PUBLIC' END END,
                CASE WHEN p.qual IS DISTINCT FROM p.expected
                     THEN 'USING ' || coalesce(p.qual, 'none') || ', not ' || p.expected END,
                CASE WHEN p.wcheck IS DISTINCT FROM p.expected
                     THEN 'WITH CHECK ' || coalesce(p.wcheck, 'none') || ', not ' || p.expected END) END,
         CASE WHEN p.polname NOT IN ('tenant_isolation', 'platform_admin_access')
              THEN format('DROP POLICY %I ON %s', p.polname, p.polrelid::regclass::text)
              ELSE format('SELECT %I.enable_isolation(%L) as its owner', {tenancy_schema_name}::text,
                          coalesce(pg_partition_root(p.polrelid), p.polrelid)::regclass::text) END
  FROM allpol p
  WHERE p.polname NOT IN ('tenant_isolation', 'platform_admin_access') OR p.polcmd <> '*' OR NOT p.polpermissive
     OR p.polroles <> p.expected_roles OR p.qual IS DISTINCT FROM p.expected OR p.wcheck IS DISTINCT FROM p.expected
  UNION ALL
  -- ISO-ROLE-SETTINGS: a per-role or per-database setting of an application role is a hook
  -- into every new session of that role (search_path to a trojan, read-only, ...)
  SELECT 'ISO-ROLE-SETTINGS', 'role ' || quote_ident(r.rolname)
           || CASE WHEN d.datname IS NOT NULL THEN ' in database ' || quote_ident(d.datname) ELSE '' END,
         'sets ' || (SELECT string_agg(split_part(c, '=', 1), ', ') FROM unnest(s.setconfig) c)
           || ' for every new session',
         format('ALTER ROLE %I%s RESET ALL (tenantdb bootstrap does it)', r.rolname,
                CASE WHEN d.datname IS NOT NULL THEN format(' IN DATABASE %I', d.datname) ELSE '' END)
  FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole LEFT JOIN pg_database d ON d.oid = s.setdatabase
  WHERE r.rolname = ANY ({app_roles}::text[])
  UNION ALL
  -- ISO-BUILTIN-ROLES: no application role holds a built-in role with server-side power
  SELECT 'ISO-BUILTIN-ROLES', 'role ' || quote_ident(a.rolname),
         'has the privileges of ' || b.rolname || ' (server-side power)',
         format('REVOKE %I FROM %I (tenantdb bootstrap does it where the master may; '
                'else revoke it from the role %I inherits it through)', b.rolname, a.rolname, a.rolname)
  FROM pg_roles a, pg_roles b
  WHERE a.rolname = ANY ({app_roles}::text[]) AND b.rolname = ANY ({powerful}::text[])
    AND pg_has_role(a.oid, b.oid, 'MEMBER')
  UNION ALL
  -- ISO-SECDEF-EXEC: no SECURITY DEFINER function app_user can run as someone else, but the toolkit's
  SELECT 'ISO-SECDEF-EXEC', 'function ' || p.oid::regprocedure::text,
         'SECURITY DEFINER: runs as ' || pg_get_userbyid(p.proowner) || ', and ' || {app_role_name}::text
           || ' may execute it'
           || CASE WHEN EXISTS (SELECT FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) x
                                WHERE x.grantee = 0 AND x.privilege_type = 'EXECUTE')
                   THEN ' (through PUBLIC)' ELSE '' END,
         format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC, %I (or make it SECURITY INVOKER)',
                p.oid::regprocedure::text, {app_role_name}::text)
  FROM pg_proc p, ctx
  WHERE p.prosecdef AND p.pronamespace NOT IN ('pg_catalog'::regnamespace, 'information_schema'::regnamespace)
    AND NOT pg_has_role(ctx.app, p.proowner, 'USAGE')
    AND NOT (p.pronamespace = ctx.tenancy AND p.proowner = ctx.tenancy_owner)
    AND has_function_privilege(ctx.app, p.oid, 'EXECUTE')
  UNION ALL
  -- ISO-TROJAN: a schema app_user owns named after another role is first in that role's default
  -- search_path ("$user"); a function or operator there named like a built-in can shadow it
  SELECT 'ISO-TROJAN', 'schema ' || quote_ident(s.nspname),
         'owned by ' || {app_role_name}::text || ' and named after role ' || quote_ident(r.rolname)
           || ': first in that role''s default search_path ("$user")',
         format('DROP SCHEMA %I CASCADE after review (and ALTER ROLE %I SET search_path only as its owner)',
                s.nspname, r.rolname)
  FROM app_schemas s JOIN pg_roles r ON r.rolname = s.nspname, ctx WHERE r.oid <> ctx.app
  UNION ALL
  SELECT 'ISO-TROJAN', t.object, 'owned by ' || {app_role_name}::text || ', named like the built-in '
           || quote_ident(t.name) || ': it wins over it wherever its schema is on the search_path',
         'drop it, or rename it so it shadows nothing in pg_catalog'
  FROM app_routines t WHERE t.shadows
  UNION ALL
  -- ISO-STATS: the statement statistics are the master's and the monitoring role's, not app_user's
  SELECT 'ISO-STATS', CASE WHEN d.classid = 'pg_class'::regclass THEN 'view ' || d.objid::regclass::text
                           ELSE 'function ' || d.objid::regprocedure::text END,
         {app_role_name}::text || ' may read the statement statistics of every session of its own role '
           || '(other tenants'' statements)',
         CASE WHEN d.classid = 'pg_class'::regclass
              THEN format('REVOKE ALL ON %s FROM PUBLIC, %I', d.objid::regclass::text, {app_role_name}::text)
              ELSE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, %I', d.objid::regprocedure::text,
                          {app_role_name}::text) END || ' (tenantdb bootstrap does it)'
  FROM pg_depend d JOIN pg_extension e ON e.oid = d.refobjid, ctx
  WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e' AND e.extname = 'pg_stat_statements'
    AND ((d.classid = 'pg_class'::regclass AND has_table_privilege(ctx.app, d.objid, 'SELECT'))
      OR (d.classid = 'pg_proc'::regclass AND has_function_privilege(ctx.app, d.objid, 'EXECUTE')))
  UNION ALL
  -- ISO-ID-LEAK: no registered tenant id in catalog text that app_user can read
  SELECT 'ISO-ID-LEAK', l.object, 'holds the id of tenant ' || t.slug || ' (readable by every role)',
         'move the id out of the catalog (a table row under row security, or tenancy.current_tenant_id())'
  FROM leaked l JOIN {tenancy}.tenants t ON t.tenant_id = l.tenant_id
  UNION ALL
  -- ISO-SEQUENCE: app_user holds nothing on a tenant's sequences (an identity column needs no privilege
  -- to insert; USAGE would let one tenant draw another's ids to their end), and no column draws from one
  -- through a nextval() default (a serial column needs USAGE)
  SELECT 'ISO-SEQUENCE', q.oid::regclass::text,
         {app_role_name}::text || ' may ' || concat_ws(' and ',
           CASE WHEN 'SELECT' = ANY (q.privs) THEN 'SELECT it (last_value)' END,
           CASE WHEN 'UPDATE' = ANY (q.privs) THEN 'UPDATE it (setval)' END,
           CASE WHEN 'USAGE' = ANY (q.privs) THEN 'draw from it (USAGE: nextval, to the end of another tenant''s ids)'
                END),
         format('REVOKE ALL ON SEQUENCE %s FROM %I, PUBLIC (and from any role %I belongs to)', q.oid::regclass::text,
                {app_role_name}::text, {app_role_name}::text)
  FROM sequences q WHERE cardinality(q.privs) > 0
  UNION ALL
  SELECT 'ISO-SEQUENCE', 'column ' || d.adrelid::regclass::text || '.' || quote_ident(a.attname),
         'its default calls nextval() (a serial column): inserting needs USAGE on the sequence',
         format('use GENERATED ... AS IDENTITY: ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT, ALTER COLUMN %I ADD '
                'GENERATED BY DEFAULT AS IDENTITY (START WITH past the column''s maximum), then drop the old sequence',
                d.adrelid::regclass::text, a.attname, a.attname)
  FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
       JOIN pg_class c ON c.oid = d.adrelid
  WHERE c.relnamespace IN (SELECT oid FROM tenant_schemas) AND NOT c.relispartition
    -- the stored expression calls nextval(regclass): found in its node tree, without deparsing
    AND strpos(d.adbin::text, chr(123) || 'FUNCEXPR :funcid '
                              || 'pg_catalog.nextval(regclass)'::regprocedure::oid::text || ' ') > 0
)
SELECT check_id, object, problem, fix FROM findings
UNION ALL
SELECT 'COUNT', k, v::text, '' FROM (VALUES
  ('tables', (SELECT count(*) FROM scoped WHERE NOT relispartition AND NOT exempt)),
  ('partitions', (SELECT count(*) FROM scoped WHERE relispartition AND NOT exempt)),
  ('isolated', (SELECT count(*) FROM isolated WHERE NOT exempt)),
  ('untenanted', (SELECT count(*) FROM scoped WHERE exempt)),
  ('untenanted_isolated', (SELECT count(*) FROM isolated WHERE exempt)),
  ('version_tables', (SELECT count(*) FROM scoped WHERE version_table)),
  ('unsecured', (SELECT count(*) FROM writable WHERE NOT version_table)),
  ('tenant_dependencies', (SELECT count(*) FROM dependency)),
  ('tenant_schemas', (SELECT count(*) FROM tenant_schemas)),
  ('policies', (SELECT count(*) FROM pol)),
  ('views', (SELECT count(*) FROM all_views)),
  ('roles', (SELECT count(*) FROM pg_roles)),
  ('server_version_num', current_setting('server_version_num')::int),
  ('app_exists', (SELECT count(*) FROM ctx)),
  ('ctf_exists', (SELECT count(*) FROM ctx WHERE ctf IS NOT NULL)),
  ('all_policies', (SELECT count(*) FROM allpol)),
  ('app_schemas', (SELECT count(*) FROM app_schemas)),
  ('app_routines', (SELECT count(*) FROM app_routines)),
  ('catalog_texts', (SELECT count(*) FROM catalog_text)),
  ('sequences', (SELECT count(*) FROM sequences))
) AS counts(k, v)
