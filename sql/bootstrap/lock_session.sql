-- bootstrap/lock_session.sql: the bootstrap's lock session, first in its transaction (which stays
-- open for the whole run, idle while the other session works): how long LOCK TABLE may wait for
-- another bootstrap (settings bootstrap_wait_s), and no idle-in-transaction timeout, which would
-- end the session, and with it the lock, halfway through the run.
SET LOCAL lock_timeout = {lock_wait};
SET LOCAL idle_in_transaction_session_timeout = 0
