-- verify/probe/as_migrator.sql: ISO-PROBE's rolled-back isolation probe, from the master's session, after it made the tenant-like scratch schema:
-- the transaction becomes the migrator, which owns tenant tables.
SET LOCAL ROLE {migrator}
