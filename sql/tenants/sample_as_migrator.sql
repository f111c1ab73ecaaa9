-- tenants/sample_as_migrator.sql: `local up`'s sample tenants: the master's transaction becomes the
-- migrator (the owner of tenant tables) for the sample row, so it is written as the migrations would.
SET LOCAL ROLE {migrator}
