-- session/rollback.sql: the end of a verifier batch: whatever the batch did is undone.
ROLLBACK
