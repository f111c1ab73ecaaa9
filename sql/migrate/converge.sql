-- converge.sql: bring tenant schemas that never pass through a worker (already
-- at head) to what the toolkit now establishes, at the start of every migrate
-- run, as the migrator (the owner of tenant tables). One statement for every
-- tenant (or the slugs asked for); only the tenants with something to do are
-- touched, each in its own subtransaction (the EXCEPTION block), so a tenant
-- whose table stays locked past lock_timeout fails alone and the others
-- converge. Also run inside a tenant's migration transaction (strict: an error
-- fails that migration instead of being reported), so the rules live here once.
--
-- Per tenant schema:
--   * the Alembic version table: no privilege for app_user or PUBLIC (it
--     would rewind, skip or break the tenant's revision), platform_admin keeps
--     SELECT at most (the schema's default privileges had given both DML);
--   * sequences: no privilege for app_user (nextval on another tenant's
--     identity), and none by default for the sequences the migrator makes later;
--   * tables settings untenanted_tables allows, not yet isolated:
--     {tenancy}.enable_isolation (bound to the schema's tenant as a whole).
-- A tenant whose registry row is locked is skipped: a migration of it is under
-- way and does all of this in its own transaction.
--
-- Reports through notices whose message is {marker}: '<marker> failed' (detail:
-- the slug; hint: what it was working on and the error) per tenant that failed,
-- then '<marker> converged' (detail: how many tenants were converged).
-- Placeholders (psycopg.sql literals): app_role, admin_role, version_table,
-- untenanted text[], slugs text[] or NULL, lock_timeout, strict, marker.
DO $tenantdb$
DECLARE
  app        constant name    := {app_role};
  admin      constant name    := {admin_role};
  vt         constant name    := {version_table};
  untenanted constant text[]  := {untenanted};
  slugs      constant text[]  := {slugs};
  fail_hard  constant boolean := {strict};
  failed     constant text    := pg_catalog.concat({marker}, ' failed');
  converged  constant text    := pg_catalog.concat({marker}, ' converged');
  app_oid    constant oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) app);
  admin_oid  constant oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) admin);
  me_oid     constant oid := (SELECT r.oid FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) CURRENT_USER);
  t       record;
  rel     pg_catalog.regclass;
  working text;
  problem text;
  done    text := '0';
  count   int := 0;
BEGIN
  PERFORM pg_catalog.set_config('lock_timeout', {lock_timeout}, true);
  FOR t IN
    SELECT w.* FROM (
      SELECT g.slug, n.nspname,
             -- the version table, when app_user or PUBLIC holds anything on it, or platform_admin more than SELECT
             (SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) x
               WHERE c.relnamespace OPERATOR(pg_catalog.=) n.oid AND c.relkind OPERATOR(pg_catalog.=) 'r'
                 AND c.relname OPERATOR(pg_catalog.=) vt
                 AND (x.grantee OPERATOR(pg_catalog.=) ANY (ARRAY[0::pg_catalog.oid, app_oid])
                      OR (x.grantee OPERATOR(pg_catalog.=) admin_oid
                          AND x.privilege_type OPERATOR(pg_catalog.<>) 'SELECT'))
               LIMIT 1) AS version_table,
             EXISTS (SELECT FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) x
                      WHERE c.relnamespace OPERATOR(pg_catalog.=) n.oid AND c.relkind OPERATOR(pg_catalog.=) 'S'
                        AND x.grantee OPERATOR(pg_catalog.=) app_oid) AS sequences,
             EXISTS (SELECT FROM pg_catalog.pg_default_acl d, pg_catalog.aclexplode(d.defaclacl) x
                      WHERE d.defaclnamespace OPERATOR(pg_catalog.=) n.oid AND d.defaclrole OPERATOR(pg_catalog.=) me_oid
                        AND d.defaclobjtype OPERATOR(pg_catalog.=) 'S' AND x.grantee OPERATOR(pg_catalog.=) app_oid)
               AS sequence_defaults,
             ARRAY(SELECT c.oid::pg_catalog.regclass FROM pg_catalog.pg_class c
                    WHERE c.relnamespace OPERATOR(pg_catalog.=) n.oid
                      AND c.relkind OPERATOR(pg_catalog.=) ANY ('{r,p}'::pg_catalog.char[]) AND NOT c.relispartition
                      AND c.relname::pg_catalog.text OPERATOR(pg_catalog.=) ANY (untenanted)
                      AND c.relname OPERATOR(pg_catalog.<>) vt
                      AND NOT EXISTS (SELECT FROM pg_catalog.pg_attribute a
                                       WHERE a.attrelid OPERATOR(pg_catalog.=) c.oid
                                         AND a.attname OPERATOR(pg_catalog.=) 'tenant_id' AND NOT a.attisdropped)
                      AND NOT (c.relrowsecurity AND c.relforcerowsecurity
                               AND (SELECT pg_catalog.count(*) FROM pg_catalog.pg_policy p
                                     WHERE p.polrelid OPERATOR(pg_catalog.=) c.oid
                                       AND p.polname OPERATOR(pg_catalog.=)
                                           ANY ('{tenant_isolation,platform_admin_access}'::pg_catalog.name[]))
                                   OPERATOR(pg_catalog.=) 2)
                    ORDER BY c.relname) AS untenanted
      FROM {tenancy}.tenants g
      JOIN pg_catalog.pg_namespace n ON n.nspname OPERATOR(pg_catalog.=) g.schema_name
      WHERE slugs IS NULL OR g.slug OPERATOR(pg_catalog.=) ANY (slugs)
    ) w
    WHERE w.version_table IS NOT NULL OR w.sequences OR w.sequence_defaults
       OR pg_catalog.cardinality(w.untenanted) OPERATOR(pg_catalog.>) 0
    ORDER BY w.slug
  LOOP
    BEGIN
      working := pg_catalog.format('schema %I', t.nspname);
      PERFORM FROM {tenancy}.tenants g WHERE g.slug OPERATOR(pg_catalog.=) t.slug FOR UPDATE OF g SKIP LOCKED;
      IF NOT FOUND THEN
        CONTINUE;  -- a migration of this tenant holds it, and converges it itself
      END IF;
      IF t.version_table IS NOT NULL THEN
        working := t.version_table::pg_catalog.text;
        EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM PUBLIC, %I', t.version_table, app);
        EXECUTE pg_catalog.format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER ON TABLE %s FROM %I',
                                  t.version_table, admin);
      END IF;
      IF t.sequences THEN
        EXECUTE pg_catalog.format('REVOKE ALL ON ALL SEQUENCES IN SCHEMA %I FROM %I', t.nspname, app);
      END IF;
      IF t.sequence_defaults THEN
        EXECUTE pg_catalog.format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I REVOKE ALL ON SEQUENCES FROM %I',
                                  t.nspname, app);
      END IF;
      FOREACH rel IN ARRAY t.untenanted LOOP
        working := rel::pg_catalog.text;
        PERFORM {tenancy}.enable_isolation(rel);
      END LOOP;
      count := count OPERATOR(pg_catalog.+) 1;
    EXCEPTION WHEN OTHERS THEN
      IF fail_hard THEN
        RAISE;
      END IF;
      problem := pg_catalog.concat(working, ': ', SQLERRM);
      RAISE NOTICE USING MESSAGE = failed, DETAIL = t.slug, HINT = problem;
    END;
  END LOOP;
  done := count::pg_catalog.text;
  RAISE NOTICE USING MESSAGE = converged, DETAIL = done;
END
$tenantdb$
