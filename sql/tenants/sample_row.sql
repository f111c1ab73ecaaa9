-- tenants/sample_row.sql: `local up`'s sample tenants, as the migrator under the tenant's context:
-- one first row in the tenant's sample table, only if it has none (a second run adds nothing).
-- Parameters: the tenant's uuid, the row's name.
INSERT INTO {table} (tenant_id, name) SELECT %s, %s WHERE NOT EXISTS (SELECT FROM {table})
