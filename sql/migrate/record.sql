-- record.sql: the tenant's revisions into the registry, as the migrator, in
-- the transaction that ran them (so the record and the schema never disagree
-- unless someone else writes the version table). The migrator may update this
-- column alone. Parameters: revisions text[], tenant_id. {registry}: tenancy.tenants.
UPDATE {registry} SET revisions = %(revisions)s::pg_catalog.text[]
WHERE tenant_id OPERATOR(pg_catalog.=) %(tenant_id)s::pg_catalog.uuid
