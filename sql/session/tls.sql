-- session/tls.sql: this session's TLS as the server sees it, as whoever connected (every
-- toolkit connection reports it).
SELECT ssl, coalesce(version, '') AS version, coalesce(cipher, '') AS cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()
