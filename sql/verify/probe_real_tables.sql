-- verify/probe_real_tables.sql: ISO-PROBE on the real tenant tables (tenantdb/verify/probe.py).
--
-- One DO block, so no extra round trip whatever the number of tables and tenants.
-- As the master it lists the isolated tables in registered tenant schemas
-- that app_user may read (at most max_tables); then, as app_user (SET LOCAL
-- ROLE), on each table:
-- - it sets each of the contexts through tenancy.set_tenant, as an
--   application does (plain: a tenant id; signed: a token minted by the
--   toolkit), and counts the rows of other tenants it can see: any is a leak.
--   The first context is a stranger's, which must see nothing. The contexts
--   come from the transaction-local setting verify/probe/stash_contexts.sql
--   filled (tokens are credentials: never in statement text);
-- - it writes each forged context straight to the tenant setting, as a hostile
--   app_user would (unset: the setting reset; empty; malformed; in signed mode
--   a bare tenant id), and counts ALL rows: any is a leak, so a
--   current_tenant_id() that maps a forged value to a real tenant shows here.
--   Each forged context is [label, value (NULL: reset), kind]; a kind ending
--   in "|22P02" (tenantdb.verify.batch.in_forged: neither empty nor a
--   canonical uuid) may also be refused with invalid_text_representation
--   (plain mode casts and raises: fails closed); any other error is a problem.
--   Forged values are not secrets: they arrive as a literal.
-- It reports one result, the probe engine's way (verify/probe/attempts.sql):
--   INFO '<nonce>|real|ok|fact:...'  or  '<nonce>|real|problem|fact:<the leaks>'
DO $probe$
DECLARE
  nonce constant text := {nonce};
  contexts constant text[] := current_setting('tenantdb.probe_contexts')::text[];
  forged constant text[] := {forged};
  tbls regclass[]; tbl regclass; context text; tenant uuid; n bigint; f text[];
  leaks text[] := ARRAY[]::text[];
BEGIN
  -- As the master: which tables (app_user may not read the registry).
  SELECT coalesce(array_agg(oid), ARRAY[]::regclass[]) INTO tbls FROM (
    SELECT c.oid::regclass AS oid FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace
    WHERE c.relkind IN ('r', 'p') AND c.relrowsecurity AND c.relforcerowsecurity AND NOT c.relispartition
      AND ns.nspname IN (SELECT schema_name FROM {registry})
      AND EXISTS (SELECT FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'tenant_id'
                  AND NOT a.attisdropped)
      AND has_table_privilege({app}, c.oid, 'SELECT')
    ORDER BY c.oid LIMIT {max_tables}) t;
  -- Then as app_user (SET LOCAL ROLE), every tenant's context and every forged one on every table.
  PERFORM set_config('role', {app}, true);
  IF current_user <> {app} THEN
    RAISE INFO '%|real|problem|fact:probe runs as %, not %', nonce, current_user, {app};
    RETURN;
  END IF;
  FOREACH tbl IN ARRAY tbls LOOP
    FOREACH context IN ARRAY contexts LOOP
      BEGIN
        tenant := {tenancy}.set_tenant(context);  -- as an application sets it
        EXECUTE format('SELECT count(*) FROM %s WHERE tenant_id IS DISTINCT FROM $1', tbl) INTO n USING tenant;
        IF n > 0 THEN
          leaks := leaks || format('tenant %s sees %s row(s) of other tenants in %s', tenant, n, tbl);
        END IF;
      EXCEPTION WHEN OTHERS THEN
        leaks := leaks || format('a context on %s raised %s', tbl, SQLERRM);
      END;
    END LOOP;
    FOREACH f SLICE 1 IN ARRAY forged LOOP
      BEGIN
        PERFORM set_config({setting}, f[2], true);  -- straight to the setting; NULL resets it
        EXECUTE format('SELECT count(*) FROM %s', tbl) INTO n;
        IF n > 0 THEN
          leaks := leaks || format('%s context sees %s row(s) in %s', f[1], n, tbl);
        END IF;
      EXCEPTION
        WHEN invalid_text_representation THEN
          IF split_part(f[3], '|', 2) <> '22P02' THEN
            leaks := leaks || format('%s context on %s raised %s', f[1], tbl, SQLERRM);
          END IF;
        WHEN OTHERS THEN
          leaks := leaks || format('%s context on %s raised %s', f[1], tbl, SQLERRM);
      END;
    END LOOP;
  END LOOP;
  IF cardinality(leaks) > 0 THEN
    RAISE INFO '%|real|problem|fact:%', nonce, array_to_string(leaks[1:5], '; ')
      || CASE WHEN cardinality(leaks) > 5 THEN format(' (and %s more)', cardinality(leaks) - 5) ELSE '' END;
  ELSE
    RAISE INFO '%|real|ok|fact:% table(s) x % tenant context(s) probed, none sees another tenant''s rows; % forged context(s) see no row',
      nonce, cardinality(tbls), cardinality(contexts), array_length(forged, 1);
  END IF;
END
$probe$
