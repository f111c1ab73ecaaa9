-- verify/probe/rollback.sql: the end of every probe transaction: nothing the probes did stays.
ROLLBACK
