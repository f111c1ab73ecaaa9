-- context_key/delete.sql: drop keys by id (retired, or never announced in the secret).
DELETE FROM {tenancy}.context_keys WHERE kid OPERATOR(pg_catalog.=) ANY (%(kids)s::text[]);
