-- bootstrap/lock_wait.sql: the bootstrap, as the master: wait for the other bootstrap's advisory lock (bounded by
-- lock_timeout). Parameter: the lock key.
SELECT pg_advisory_lock(%s)
