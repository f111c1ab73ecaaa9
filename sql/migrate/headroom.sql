-- headroom.sql: connection slots free right now for ordinary roles
-- (max_connections minus the superuser reserve minus the client sessions in use).
SELECT pg_catalog.current_setting('max_connections')::int
       - pg_catalog.current_setting('superuser_reserved_connections')::int
       - (SELECT pg_catalog.count(*)::int FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend')
       AS free
