-- tenants/sample_context.sql: `local up`'s sample tenants, as the migrator: the transaction's tenant
-- context, so the sample row passes the table's row-level security. Parameters: setting, tenant uuid.
SELECT set_config(%s, %s, true)
