-- verify/signed/through_helper.sql: ISO-SIGNED's rolled-back forgery probe, as app_user (a "deny" attempt: the
-- helper must refuse it with 22023; had it been accepted, the forged context would be in force for the
-- attempts after it): the stashed forged context number i handed to tenancy.set_tenant, as an application
-- would (verify/probe/stash_contexts.sql stashed it: tokens never enter statement text).
SELECT {tenancy}.set_tenant((pg_catalog.current_setting('tenantdb.probe_contexts')::pg_catalog.text[])[{i}])
