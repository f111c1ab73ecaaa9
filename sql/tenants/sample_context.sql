-- tenants/sample_context.sql: `local up`'s sample tenants, as the migrator: the transaction's tenant
-- context, so the sample row passes the table's row-level security. Parameters: setting, context
-- (the tenant uuid in plain mode, a signed token in signed mode).
SELECT set_config(%s, %s, true)
