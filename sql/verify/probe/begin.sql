-- verify/probe/begin.sql: the probes' transactions start explicitly (their batches run in autocommit, one pipeline).
BEGIN
