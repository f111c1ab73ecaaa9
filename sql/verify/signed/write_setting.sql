-- verify/signed/write_setting.sql: ISO-SIGNED's rolled-back forgery probe, as app_user (a "forge" attempt): the
-- stashed forged context number i written to the tenant setting directly, bypassing the helper, as an attacker
-- would (verify/probe/stash_contexts.sql stashed it: tokens never enter statement text).
SELECT pg_catalog.set_config({setting}, (pg_catalog.current_setting('tenantdb.probe_contexts')::pg_catalog.text[])[{i}], true)
