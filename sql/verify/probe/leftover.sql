-- verify/probe/leftover.sql: ISO-PROBE's rolled-back isolation probe, as the master, after the probe's transactions rolled back: whether the
-- scratch schema was left behind. Parameter: the scratch schema's name.
SELECT count(*) FROM pg_namespace WHERE nspname = %s
