-- verify/probe/stash_contexts.sql: ISO-PROBE on the real tenant tables: the contexts to try (tokens in signed mode, which
-- are credentials) reach the block below as a bound parameter, kept in a transaction-local setting, never in
-- statement text. Parameter: the contexts (text[]).
SELECT set_config('tenantdb.probe_contexts', %s::text[]::text, true)
