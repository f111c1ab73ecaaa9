-- verify/probe/count.sql: the rolled-back isolation probes (ISO-PROBE; AC10 runs it too), as app_user under the context being tried: how many rows
-- it reads (without a valid context: none).
SELECT count(*) FROM {table}
