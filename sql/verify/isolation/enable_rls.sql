-- verify/isolation/enable_rls.sql: AC10's rolled-back RLS proof, as app_user, the table's owner: row-level security enabled and
-- forced on the probe table, with the same tenant policy the bootstrap generates.
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON {table} USING (tenant_id = (SELECT {tenancy}.current_tenant_id())) WITH CHECK (tenant_id = (SELECT {tenancy}.current_tenant_id()))
