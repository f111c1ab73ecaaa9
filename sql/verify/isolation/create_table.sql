-- verify/isolation/create_table.sql: AC10's rolled-back RLS proof, as app_user: the probe table in the scratch schema.
CREATE TABLE {table} (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL, note text)
