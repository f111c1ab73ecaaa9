-- session/whoami_tls.sql: verify AC9, logged in as a role with its secret's password: who the
-- session is and whether it uses TLS.
SELECT current_user, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())
