-- verify/isolation/no_context_yet.sql: AC10's rolled-back RLS proof, as app_user: before any context is set, the current tenant must be NULL.
SELECT (SELECT {tenancy}.current_tenant_id()) IS NULL
