-- bootstrap/lock_try.sql: the bootstrap's lock, if it is free (one bootstrap per database at a time),
-- in the lock session's transaction (bootstrap/lock_table.sql says why a table). Fails at once with
-- 55P03 when another session holds it; the bootstrap then waits with bootstrap/lock_wait.sql.
LOCK TABLE {lock_table} IN EXCLUSIVE MODE NOWAIT
