-- verify/isolation/create_schema.sql: AC10's rolled-back RLS proof, as app_user, when it may create schemas (AC8's CREATE on the
-- database): the scratch schema the probe table lives in.
CREATE SCHEMA {schema}
