-- context_key/keys.sql: every stored context key, as the master reads it (tenantdb.database.tenancy.context_key).
SELECT k.kid, k.key,
       pg_catalog.date_part('epoch', k.created_at)::bigint AS created_at,
       pg_catalog.date_part('epoch', k.retires_at)::bigint AS retires_at
FROM {tenancy}.context_keys k
ORDER BY k.created_at, k.kid;
