-- verify/probe/delete_all.sql: ISO-PROBE's rolled-back isolation probe, with no valid context: a delete of every row, which must touch none.
DELETE FROM {table}
