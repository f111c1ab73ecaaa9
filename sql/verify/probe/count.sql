-- verify/probe/count.sql: ISO-PROBE's rolled-back isolation probe, as app_user under the context being tried: how many rows
-- it reads (without a valid context: none).
SELECT count(*) FROM {table}
