-- verify/isolation/update_other.sql: AC10's rolled-back RLS proof, as tenant A: an update of B's rows, which must touch
-- none.
UPDATE {table} SET note = 'x' WHERE tenant_id = {tenant}
