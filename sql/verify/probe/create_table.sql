-- verify/probe/create_table.sql: ISO-PROBE's rolled-back isolation probe, as the migrator: the scratch table, shaped like a tenant table.
CREATE TABLE {table} (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL, note text)
