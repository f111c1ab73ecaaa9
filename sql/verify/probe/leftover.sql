-- verify/probe/leftover.sql: ISO-PROBE's and AC10's rolled-back probes, after their transactions rolled back (a "check"
-- attempt): the scratch schema must not be left behind.
SELECT count(*) = 0, CASE WHEN count(*) = 0 THEN 'nothing left behind' ELSE format('schema %s left behind', {schema}) END
FROM pg_namespace WHERE nspname = {schema}
