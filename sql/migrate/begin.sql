-- begin.sql: the first statement of each tenant's transaction.
--   * lock_timeout for this transaction: waiting for the tenant's registry row
--     (another migrate run on the same tenant, lock.sql), or a revision's DDL
--     waiting behind the application's locks, gives up (and rolls back)
--     instead of queueing every query of that tenant behind it.
--   * the tenant context, so a data migration reads and writes its own
--     tenant's rows under the isolation policies (FORCE binds the owner too).
--     {tenancy}.migration_context (sql/045) gives it: in plain mode the
--     registered tenant's id, in signed mode a token minted inside the server
--     with the current key (the token never travels to the client or into a
--     statement's text). It refuses a tenant that is not registered.
--   * statement_timeout for this transaction: settings migrate_statement_timeout_s,
--     longer than the toolkit's own sessions' (a revision may rewrite a big table),
--     but never without limit.
-- Parameters: lock_timeout, statement_timeout, tenant_setting, tenant_id.
SELECT pg_catalog.set_config('lock_timeout', %(lock_timeout)s, true),
       pg_catalog.set_config('statement_timeout', %(statement_timeout)s, true),
       pg_catalog.set_config(%(tenant_setting)s, {tenancy}.migration_context(%(tenant_id)s::pg_catalog.uuid), true)
         IS NOT NULL AS context_set
