-- verify/isolation/insert.sql: AC10's rolled-back RLS proof, as app_user: one row of a tenant (before RLS is on, and later
-- as tenant A trying to write B's row, which the policy must refuse).
INSERT INTO {table} (tenant_id, note) VALUES ({tenant}, {note})
