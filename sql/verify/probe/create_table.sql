-- verify/probe/create_table.sql: the rolled-back isolation probes (ISO-PROBE; AC10 runs it too), as the migrator: the scratch table, shaped like a tenant table.
CREATE TABLE {table} (id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL, note text)
