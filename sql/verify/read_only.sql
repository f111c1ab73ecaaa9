-- verify/read_only.sql: the verifier's catalog reads (the posture query), as the master, run in a
-- read-only transaction: a check can never change what it inspects.
SET TRANSACTION READ ONLY
