-- converge_timeout.sql: the converging session's statement_timeout, before converge.sql runs.
-- converge.sql is one statement that may wait up to lock_timeout for each locked tenant in turn;
-- under the toolkit's own statement_timeout a few locked tenants would cancel it for every tenant.
-- It gets a tenant migration's (settings migrate_statement_timeout_s), still never without limit.
-- Parameter: statement_timeout.
SELECT pg_catalog.set_config('statement_timeout', %(statement_timeout)s, false)
