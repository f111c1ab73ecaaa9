-- tenants/drop_lock_timeout.sql: `tenant drop`, as the master, waits at most this long for the
-- tenant's tables to be free (an application holding them makes the drop give up, not hang).
SET LOCAL lock_timeout = {lock_timeout}
