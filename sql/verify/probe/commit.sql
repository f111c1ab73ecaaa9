-- verify/probe/commit.sql: the end of the pooled test's first transaction: committed, as an application's would be.
COMMIT
