-- bootstrap/lock_timeout.sql: the bootstrap, as the master, when another bootstrap holds the lock: how long to
-- wait for it before giving up.
SET lock_timeout = {lock_wait}
