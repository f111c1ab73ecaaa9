-- context_held.sql: after a tenant's revisions, in its transaction: does the tenant context that
-- begin.sql set still name the tenant? A signed context lapses at its token's expiry (at most
-- settings context_token_max_ttl_s); a data migration that outlived it read nothing and wrote
-- nothing after that, so the tenant's migration is refused rather than committed half-done.
-- Parameter: tenant_id.
SELECT {tenancy}.current_tenant_id() IS NOT DISTINCT FROM %(tenant_id)s::pg_catalog.uuid AS held
