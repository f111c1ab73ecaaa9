-- 030_extensions.state.sql: which of the wanted extensions exist, at which version, as one row.
SELECT coalesce((SELECT pg_catalog.string_agg(extname || ' ' || extversion, ', ' ORDER BY extname)
                   FROM pg_catalog.pg_extension
                  WHERE extname = ANY ({extensions}::text[])), 'none') AS extensions;
