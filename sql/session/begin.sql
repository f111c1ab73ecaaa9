-- session/begin.sql: the start of a verifier batch that writes (tenantdb.database.plumbing.connection.batch):
-- only to what it creates in the transaction, which session/rollback.sql then undoes.
BEGIN
