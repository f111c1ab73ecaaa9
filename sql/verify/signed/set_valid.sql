-- verify/signed/set_valid.sql: ISO-SIGNED's rolled-back forgery probe, as app_user (a "forge" attempt): A's valid
-- token, the first stashed context, set through the helper, as an application sets it; the helper raising
-- (refusing a valid token) is reported as such.
SELECT {tenancy}.set_tenant((pg_catalog.current_setting('tenantdb.probe_contexts')::pg_catalog.text[])[1])
