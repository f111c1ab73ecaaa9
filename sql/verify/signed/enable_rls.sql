-- verify/signed/enable_rls.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user, the table's owner: row-level security enabled and forced,
-- with the tenant policy the bootstrap generates.
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table} USING (tenant_id = (SELECT {tenancy}.current_tenant_id())) WITH CHECK (tenant_id = (SELECT {tenancy}.current_tenant_id()))
