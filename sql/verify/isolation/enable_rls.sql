-- verify/isolation/enable_rls.sql: AC10's rolled-back RLS proof, as app_user, the table's owner: row-level security
-- enabled and forced on the probe table.
ALTER TABLE {table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY
