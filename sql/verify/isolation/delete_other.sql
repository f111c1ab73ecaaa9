-- verify/isolation/delete_other.sql: AC10's rolled-back RLS proof, as tenant A: a delete of B's rows, which must touch
-- none.
DELETE FROM {table} WHERE tenant_id = {tenant}
