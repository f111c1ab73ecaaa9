-- context_key/insert.sql: store new keys. COPY, so the key travels as data: it is never part of a
-- statement's text or bound parameters, which the server log and pg_stat_statements may record.
-- The trigger context_key_pads fills hmac_inner and hmac_outer.
COPY {tenancy}.context_keys (kid, key, created_at, retires_at) FROM STDIN;
