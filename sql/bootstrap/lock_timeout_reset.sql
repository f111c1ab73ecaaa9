-- bootstrap/lock_timeout_reset.sql: the bootstrap, as the master, once it holds the lock: the session's lock_timeout
-- back to the server's default for the steps.
RESET lock_timeout
