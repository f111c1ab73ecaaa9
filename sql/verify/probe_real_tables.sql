-- verify/probe_real_tables.sql: ISO-PROBE on the real tenant tables (tenantdb/verify/probe.py).
--
-- One DO block, so one round trip whatever the number of tables and tenants.
-- As the master it lists the isolated tables in registered tenant schemas
-- that app_user may read (at most max_tables); then, as app_user (SET LOCAL
-- ROLE), it sets each of the contexts through tenancy.set_tenant, as an
-- application does (plain: a tenant id; signed: a token minted by the
-- toolkit), and counts the rows of other tenants it can see: any is a leak,
-- and raises. The first context is a stranger's, which must see nothing.
-- DO takes no bind parameters: the values are quoted literals.
DO $probe$
DECLARE
  tbls regclass[]; tbl regclass; context text; tenant uuid; n bigint;
  contexts constant text[] := {contexts};
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
  -- Then as app_user (SET LOCAL ROLE), every tenant's context on every table.
  PERFORM set_config('role', {app}, true);
  IF current_user <> {app} THEN RAISE EXCEPTION 'probe runs as %, not %', current_user, {app}; END IF;
  FOREACH tbl IN ARRAY tbls LOOP
    FOREACH context IN ARRAY contexts LOOP
      tenant := {tenancy}.set_tenant(context);  -- as an application sets it
      EXECUTE format('SELECT count(*) FROM %s WHERE tenant_id IS DISTINCT FROM $1', tbl) INTO n USING tenant;
      IF n > 0 THEN
        RAISE EXCEPTION 'tenant % sees % row(s) of other tenants in %', tenant, n, tbl;
      END IF;
    END LOOP;
  END LOOP;
  RAISE NOTICE 'probed % table(s) x % tenant context(s)', cardinality(tbls), cardinality(contexts);
END
$probe$;
