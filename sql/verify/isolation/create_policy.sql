-- verify/isolation/create_policy.sql: AC10's rolled-back RLS proof, as app_user, the table's owner: the same tenant
-- policy the bootstrap generates.
CREATE POLICY tenant_isolation ON {table} USING (tenant_id = (SELECT {tenancy}.current_tenant_id()))
  WITH CHECK (tenant_id = (SELECT {tenancy}.current_tenant_id()))
