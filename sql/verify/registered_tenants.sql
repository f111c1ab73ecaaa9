-- verify/registered_tenants.sql: the first registered tenants (as the master: app_user may not
-- read the registry), whose contexts ISO-PROBE mints and tries on the real tenant tables.
SELECT tenant_id FROM {registry} ORDER BY created_at LIMIT {max_tenants}
