-- verify/probe/pooled_after.sql: ISO-PROBE's rolled-back isolation probe, as app_user (or its own login), in the
-- transaction after one that set a context with the helper and committed (a "check" attempt): the setting and
-- the current tenant must both be gone.
SELECT coalesce(current_setting({setting}, true), '') = '' AND {tenancy}.current_tenant_id() IS NULL,
       CASE WHEN coalesce(current_setting({setting}, true), '') = '' AND {tenancy}.current_tenant_id() IS NULL
            THEN 'gone in the next transaction'
            ELSE format('survived into the next transaction (current tenant %s)',
                        coalesce({tenancy}.current_tenant_id()::text, 'none, but the setting still holds a value')) END
