-- 040_tenancy.sql: the foundation of tenant isolation.
--
-- Schema tenancy (the toolkit's own, owned by the master) holds the two
-- functions every tenant's session and every policy goes through:
--
--   tenancy.set_tenant(context text) RETURNS uuid
--     The application calls it inside its transaction as
--         SELECT tenancy.set_tenant($1)
--     with the context as a BOUND parameter, so the tenant id never appears
--     in statement text (pg_stat_statements, pg_stat_activity, the server
--     log): a literal "SET LOCAL app.current_tenant = '<uuid>'" would show it
--     to every other session. It sets the context transaction-locally
--     (set_config(..., true), gone at COMMIT/ROLLBACK, so nothing survives on
--     a pooled connection) and returns the tenant id. A malformed value
--     raises SQLSTATE 22023 (invalid_parameter_value) instead of silently
--     setting nothing.
--
--   tenancy.current_tenant_id() RETURNS uuid
--     The current tenant. It fails closed two ways: an unset or empty context
--     gives NULL (the policy matches no row); anything else is cast to uuid,
--     so a malformed value raises SQLSTATE 22P02 (invalid_text_representation)
--     and the statement fails. Policies use it as
--         USING (tenant_id = (SELECT tenancy.current_tenant_id()))
--     (the sub-select makes it run once per statement, not once per row).
--
-- The bodies here are the "plain" tenant context (settings tenant_context =
-- plain, the default): the context is the tenant's uuid itself. With
-- tenant_context = signed this file leaves both functions alone and
-- 045_tenant_context_signed.sql defines them (the context is a signed token).
CREATE SCHEMA IF NOT EXISTS {tenancy};
REVOKE ALL ON SCHEMA {tenancy} FROM PUBLIC;
GRANT USAGE ON SCHEMA {tenancy} TO {app_role};

DO $tenantdb$
BEGIN
  IF {tenant_context} = 'plain' THEN
    -- Fails closed two ways. Unset (NULL) or empty ('' is what PostgreSQL
    -- returns once the setting has existed in the session) gives NULL, so
    -- "tenant_id = NULL" matches no row. Anything else is cast to uuid: a
    -- malformed value raises 22P02 and the statement fails, loudly (an
    -- application that writes the setting itself, bypassing set_tenant, shows
    -- up instead of silently reading nothing). No regular expression: this
    -- runs once per statement on every tenant table, and the bare cast costs
    -- a fraction of a match. A plain STABLE SQL function with no SET clause,
    -- so the planner can inline it. Every operator, function and type is
    -- qualified with pg_catalog (no NULLIF, no "CASE x WHEN": both find "="
    -- through the caller's search_path), so the caller cannot redirect it.
    CREATE OR REPLACE FUNCTION {tenancy}.current_tenant_id()
      RETURNS uuid
      LANGUAGE sql
      STABLE
      PARALLEL SAFE
    AS $body$
      SELECT CASE
        WHEN pg_catalog.current_setting({tenant_setting}, true) IS NULL
          OR pg_catalog.length(pg_catalog.current_setting({tenant_setting}, true)) OPERATOR(pg_catalog.=) 0
        THEN NULL
        ELSE pg_catalog.current_setting({tenant_setting}, true)::pg_catalog.uuid
      END
    $body$;

    COMMENT ON FUNCTION {tenancy}.current_tenant_id() IS
      'The current tenant (uuid) from the tenant setting; NULL when unset or empty (no row matches); raises 22P02 when malformed (the statement fails). Fails closed both ways.';

    -- SECURITY INVOKER: any role may set its own custom setting, so the
    -- function needs no power. The SET clause pins search_path (it restores
    -- only search_path at exit; the tenant setting stays for the transaction).
    CREATE OR REPLACE FUNCTION {tenancy}.set_tenant(context text)
      RETURNS uuid
      LANGUAGE plpgsql
      VOLATILE
      SECURITY INVOKER
      SET search_path = pg_catalog, pg_temp
    AS $body$
    DECLARE
      tenant uuid;
    BEGIN
      IF context IS NULL OR context !~ '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' THEN
        RAISE EXCEPTION 'set_tenant: the tenant context is not a tenant id (a canonical uuid)'
          USING ERRCODE = 'invalid_parameter_value',
                HINT = 'pass the tenant id as a bound parameter: SELECT tenancy.set_tenant($1)';
      END IF;
      tenant := context::uuid;
      PERFORM set_config({tenant_setting}, tenant::text, true);
      RETURN tenant;
    END
    $body$;

    COMMENT ON FUNCTION {tenancy}.set_tenant(text) IS
      'Set the tenant context for the current transaction from a bound parameter; returns the tenant id; raises 22023 when malformed.';

    -- Only the application role calls them (045 grants its own bodies).
    REVOKE ALL ON FUNCTION {tenancy}.current_tenant_id() FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION {tenancy}.current_tenant_id() TO {app_role};
    REVOKE ALL ON FUNCTION {tenancy}.set_tenant(text) FROM PUBLIC;
    GRANT EXECUTE ON FUNCTION {tenancy}.set_tenant(text) TO {app_role};
  END IF;
END
$tenantdb$;
