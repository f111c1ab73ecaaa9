-- verify/probe/set_context.sql: the pooled test in signed mode when no tenant is registered (set_tenant accepts
-- only a registered tenant's token): the token written to the tenant setting transaction-locally, as set_tenant
-- writes it. Parameter: the token (bound, never in statement text). Placeholder: setting.
SELECT pg_catalog.set_config({setting}, %s, true)
