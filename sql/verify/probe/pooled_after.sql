-- verify/probe/pooled_after.sql: ISO-PROBE's rolled-back isolation probe, as app_user (or its own login), in the transaction after one that set
-- a context with the helper: the setting and the current tenant (both must be gone).
-- Parameter: the setting's name.
SELECT current_setting(%s, true), {tenancy}.current_tenant_id()
