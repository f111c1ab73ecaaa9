-- verify/isolation/move_rows.sql: AC10's rolled-back RLS proof, as tenant A: moving A's rows to B, which the policy's
-- WITH CHECK must refuse.
UPDATE {table} SET tenant_id = {tenant}
