-- verify/isolation/create_temp_table.sql: AC10's rolled-back RLS proof, as app_user, when it may not create schemas: the probe
-- table as a temporary table, gone at the end of the transaction.
CREATE TEMPORARY TABLE {table} (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL, note text) ON COMMIT DROP
