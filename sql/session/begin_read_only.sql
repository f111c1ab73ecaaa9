-- session/begin_read_only.sql: the start of a verifier batch (tenantdb.database.plumbing.connection.read_only_batch):
-- a read-only transaction, so a check can never change what it inspects; the batch ends with
-- session/rollback.sql.
BEGIN READ ONLY
