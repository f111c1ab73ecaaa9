-- begin.sql: the first statement of each tenant's transaction.
--   * lock_timeout for this transaction: a revision's DDL that waits behind the
--     application's locks gives up (and rolls back) instead of queueing every
--     query of that tenant behind it; so does waiting for the advisory lock.
--   * a transaction-scoped advisory lock per tenant schema: two migrate runs
--     never work on the same tenant at once; the second waits, then finds the
--     tenant at head (Alembic reads the version table after the lock).
--   * the tenant context, so a data migration reads and writes its own
--     tenant's rows under the isolation policies (FORCE binds the owner too).
-- Parameters: lock_timeout, lock_class int, schema, tenant_setting, tenant_id.
SELECT pg_catalog.set_config('lock_timeout', %(lock_timeout)s, true),
       pg_catalog.set_config(%(tenant_setting)s, %(tenant_id)s, true),
       pg_catalog.pg_advisory_xact_lock(%(lock_class)s::int, pg_catalog.hashtext(%(schema)s))
