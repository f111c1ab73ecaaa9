-- verify/isolation/set_tenant.sql: AC10's rolled-back RLS proof, as app_user: tenant A's context, set the way an application
-- sets it (the id, or in signed mode a token). Parameter: the context value.
SELECT {tenancy}.set_tenant(%s)
