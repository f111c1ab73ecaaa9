-- verify/probe/set_tenant.sql: the rolled-back isolation probes (ISO-PROBE; AC10 runs it too), as app_user: a context set the way an application sets it, through the
-- helper, the context a bound parameter (the id, or in signed mode a token).
SELECT {tenancy}.set_tenant(%s)
