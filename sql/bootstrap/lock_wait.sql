-- bootstrap/lock_wait.sql: wait for the other bootstrap's lock, bounded by the lock_timeout of
-- bootstrap/lock_session.sql; the bootstrap names the holder while it waits (tenantdb/database/plumbing/locks.py).
LOCK TABLE {lock_table} IN EXCLUSIVE MODE
