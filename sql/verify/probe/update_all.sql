-- verify/probe/update_all.sql: ISO-PROBE's rolled-back isolation probe, with no valid context: an update of every row, which must touch none.
UPDATE {table} SET note = 'x'
