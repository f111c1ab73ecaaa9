-- posture.sql: is every table of these tenant schemas isolated? One query,
-- read-only; one row per finding (schema, table, problem), none when all is
-- well. Run inside each tenant's migration transaction (a finding fails it and
-- rolls it back) and once over every migrated schema at the end of the run.
--   * every table (or partition) but the Alembic version table, with tenant_id
--     or an allowed one without: row security enabled and forced, and a
--     permissive policy that calls {tenancy}.current_tenant_id() (found
--     through pg_depend, not by reading the expression);
--   * no permissive policy that app_user is subject to without the tenant
--     context (permissive policies are OR-ed: one such policy opens the table);
--   * a table without tenant_id only when allowed;
--   * app_user holds no privilege on the version table (it would rewrite the
--     tenant's revision) nor on a sequence (nextval on another tenant's).
-- Parameters: schemas text[], app (app_user's name), untenanted text[], version_table.
WITH ctf AS (
  SELECT p.oid FROM pg_catalog.pg_proc p
  WHERE p.pronamespace = {tenancy_name}::pg_catalog.regnamespace AND p.proname = 'current_tenant_id'
    AND p.pronargs = 0
),
app AS (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %(app)s),
t AS (
  SELECT c.oid, n.nspname::text AS schema, c.relname::text AS relname, c.relrowsecurity, c.relforcerowsecurity,
         EXISTS (SELECT FROM pg_catalog.pg_attribute a
                  WHERE a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped) AS has_tenant_id
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
  WHERE n.nspname = ANY (%(schemas)s::text[]) AND c.relkind IN ('r', 'p')
),
pol AS (
  SELECT p.polrelid, p.polname::text AS polname, p.polpermissive,
         EXISTS (SELECT FROM pg_catalog.pg_depend d
                  WHERE d.classid = 'pg_catalog.pg_policy'::pg_catalog.regclass AND d.objid = p.oid
                    AND d.refclassid = 'pg_catalog.pg_proc'::pg_catalog.regclass
                    AND d.refobjid = (SELECT oid FROM ctf)) AS uses_ctx
  FROM pg_catalog.pg_policy p, app
  WHERE p.polrelid IN (SELECT oid FROM t)
    AND (0 = ANY (p.polroles) OR EXISTS (SELECT FROM pg_catalog.unnest(p.polroles) r
                                          WHERE pg_catalog.pg_has_role(app.oid, r, 'USAGE')))
)
SELECT schema, relname, 'row security not enabled and forced' AS problem
  FROM t WHERE relname <> %(version_table)s AND NOT (relrowsecurity AND relforcerowsecurity)
UNION ALL
SELECT schema, relname, 'no permissive policy on the tenant context'
  FROM t WHERE relname <> %(version_table)s
   AND NOT EXISTS (SELECT FROM pol WHERE pol.polrelid = t.oid AND pol.polpermissive AND pol.uses_ctx)
UNION ALL
SELECT t.schema, t.relname, 'permissive policy ' || pol.polname || ' applies to app_user without the tenant context'
  FROM t JOIN pol ON pol.polrelid = t.oid WHERE pol.polpermissive AND NOT pol.uses_ctx
UNION ALL
SELECT schema, relname, 'no tenant_id column (allowed only when settings untenanted_tables lists it)'
  FROM t WHERE NOT has_tenant_id AND relname <> %(version_table)s AND relname <> ALL (%(untenanted)s::text[])
UNION ALL
SELECT schema, relname, 'app_user holds a privilege on the version table'
  FROM t, app WHERE relname = %(version_table)s
   AND pg_catalog.has_table_privilege(app.oid, t.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
UNION ALL
SELECT n.nspname::text, c.relname::text, 'app_user holds a privilege on the sequence (use GENERATED ... AS IDENTITY)'
  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace, app
 WHERE n.nspname = ANY (%(schemas)s::text[]) AND c.relkind = 'S'
   AND pg_catalog.has_sequence_privilege(app.oid, c.oid, 'USAGE, SELECT, UPDATE')
ORDER BY 1, 2, 3
