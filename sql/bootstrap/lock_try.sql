-- bootstrap/lock_try.sql: the bootstrap, as the master on the admin database: the bootstrap's advisory lock, if it
-- is free (one bootstrap per server at a time). Parameter: the lock key.
SELECT pg_try_advisory_lock(%s)
