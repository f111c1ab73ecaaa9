-- verify/isolation/visible.sql: AC10's rolled-back RLS proof, as app_user under the context being tried: the tenant ids it sees.
SELECT tenant_id FROM {table}
