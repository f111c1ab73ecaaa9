-- verify/isolation/no_context_yet.sql: AC10's rolled-back RLS proof, as app_user (a "check" attempt): before any
-- context is set, the current tenant must be NULL.
SELECT (SELECT {tenancy}.current_tenant_id()) IS NULL,
       CASE WHEN (SELECT {tenancy}.current_tenant_id()) IS NULL THEN 'is NULL before any context is set'
            ELSE 'is not NULL before any context is set' END
