-- 045_tenant_context_signed.sql: the signed tenant context (settings tenant_context = signed).
--
-- In signed mode the context the application sets is a token, not a tenant
-- id, through the same helper as in plain mode (SELECT tenancy.set_tenant($1)):
--
--     v1.<kid>.<tenant uuid>.<exp>.<mac>
--     mac = lower-case hex of HMAC-SHA256(key, 'v1.<kid>.<tenant uuid>.<exp>')
--
-- (docs/tenant-context.md; tenantdb/database/context_token.py mints one).
-- tenancy.current_tenant_id() returns the tenant only for a token that is
-- well formed, unexpired, not too far in the future, and MACed under a key
-- that is current or still retiring; anything else (a bare uuid, a wrong
-- MAC, a tampered id, an expired token, a retired key, a value written to
-- the setting directly) gives NULL, so policies match no row.
--
-- What this file declares, only when tenant_context = signed:
--   tenancy.context_keys        the keys; no grant to anyone: only its owner
--                               (the master) reads it
--   tenancy.context_key_pads()  trigger: derives HMAC's inner and outer keys
--                               once, when a key is stored (RFC 2104)
--   tenancy.current_tenant_id() SECURITY DEFINER (as the master, the key's
--                               owner), search_path pinned: the verifier
--   tenancy.set_tenant(text)    sets the token for the transaction; raises
--                               22023 when it does not verify
-- The keys themselves are written by the bootstrap's context-key step
-- (tenantdb/database/context_key.py), by COPY, so key material never appears
-- in statement text, bound parameters or the server log.
--
-- In plain mode 040_tenancy.sql defines both functions and this file drops
-- the key table and the trigger function: a key nobody verifies with is
-- only a liability. (Switching back to signed regenerates or, through AWS,
-- restores the keys from the context key secret.)
--
-- Cost: policies call (SELECT tenancy.current_tenant_id()), an InitPlan, so
-- the MAC is checked once per statement, not per row. No verified result is
-- cached: any cache app_user could reach (a setting, a temporary table) is a
-- cache app_user could forge. The check is two built-in sha256() calls over
-- precomputed pads and one primary-key probe of a tiny table (pgcrypto is not
-- needed).
DO $tenantdb$
BEGIN
  IF {tenant_context} <> 'signed' THEN
    DROP TABLE IF EXISTS {tenancy}.context_keys;
    DROP FUNCTION IF EXISTS {tenancy}.context_key_pads();
    RETURN;
  END IF;

  CREATE TABLE IF NOT EXISTS {tenancy}.context_keys (
    kid        text        PRIMARY KEY,
    key        bytea       NOT NULL,
    hmac_inner bytea       NOT NULL,
    hmac_outer bytea       NOT NULL,
    created_at timestamptz NOT NULL,
    retires_at timestamptz
  );
  ALTER TABLE {tenancy}.context_keys DROP CONSTRAINT IF EXISTS context_keys_valid;
  ALTER TABLE {tenancy}.context_keys ADD CONSTRAINT context_keys_valid CHECK (
    kid OPERATOR(pg_catalog.~) '^[0-9a-f]{8}$'
    AND pg_catalog.octet_length(key) = 32
    AND pg_catalog.octet_length(hmac_inner) = 64
    AND pg_catalog.octet_length(hmac_outer) = 64);
  -- Exactly one current key (retires_at NULL) at most.
  CREATE UNIQUE INDEX IF NOT EXISTS context_keys_one_current
    ON {tenancy}.context_keys ((true)) WHERE retires_at IS NULL;
  -- No statistics on key material (pg_statistic would hold samples of it).
  ALTER TABLE {tenancy}.context_keys ALTER COLUMN key SET STATISTICS 0,
    ALTER COLUMN hmac_inner SET STATISTICS 0, ALTER COLUMN hmac_outer SET STATISTICS 0;
  REVOKE ALL ON {tenancy}.context_keys FROM PUBLIC;
  COMMENT ON TABLE {tenancy}.context_keys IS
    'Signing keys of the tenant context (signed mode). No grants: only the owner reads it. Written by tenantdb bootstrap.';

  -- HMAC(K, m) = H((K0 xor opad) || H((K0 xor ipad) || m)), K0 = K zero-padded
  -- to SHA-256's 64-byte block (RFC 2104). Computed once per stored key.
  CREATE OR REPLACE FUNCTION {tenancy}.context_key_pads()
    RETURNS trigger
    LANGUAGE plpgsql
    SECURITY INVOKER
    SET search_path = pg_catalog, pg_temp
  AS $body$
  DECLARE
    k0 bytea := NEW.key OPERATOR(pg_catalog.||) pg_catalog.decode(pg_catalog.repeat('00', 64 - pg_catalog.octet_length(NEW.key)), 'hex');
    i  int;
  BEGIN
    NEW.hmac_inner := k0;
    NEW.hmac_outer := k0;
    FOR i IN 0..63 LOOP
      NEW.hmac_inner := pg_catalog.set_byte(NEW.hmac_inner, i, pg_catalog.get_byte(k0, i) # 54);  -- 0x36
      NEW.hmac_outer := pg_catalog.set_byte(NEW.hmac_outer, i, pg_catalog.get_byte(k0, i) # 92);  -- 0x5c
    END LOOP;
    RETURN NEW;
  END
  $body$;
  REVOKE ALL ON FUNCTION {tenancy}.context_key_pads() FROM PUBLIC;
  DROP TRIGGER IF EXISTS context_key_pads ON {tenancy}.context_keys;
  CREATE TRIGGER context_key_pads BEFORE INSERT OR UPDATE OF key ON {tenancy}.context_keys
    FOR EACH ROW EXECUTE FUNCTION {tenancy}.context_key_pads();

  -- The verifier. SECURITY DEFINER so that it, and only it, reads the keys as
  -- their owner; search_path pinned and every name qualified, so no caller's
  -- schema can redirect it. Any value that is not a token MACed under a valid
  -- key gives NULL without raising (a bad value leaks nothing through an
  -- error). Only after the MAC holds are the id and the expiry read: the
  -- token was then made by a key holder, in the format above. The expiry is
  -- judged at the statement's start, so one statement sees one answer. The
  -- two MACs are compared as their sha256 (a byte comparison of hashes leaks
  -- no usable timing about the expected MAC).
  -- Written for speed, since every statement on a tenant table runs it once:
  -- no regular expression (PostgreSQL's engine took ~30 us on this
  -- pattern), no array, one primary-key probe.
  CREATE OR REPLACE FUNCTION {tenancy}.current_tenant_id()
    RETURNS uuid
    LANGUAGE plpgsql
    STABLE
    PARALLEL SAFE
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
  AS $body$
  DECLARE
    token pg_catalog.text := pg_catalog.current_setting({tenant_setting}, true);
    raw   pg_catalog.bytea;
    n     pg_catalog.int4;
    pads  record;
    exp   pg_catalog.int8;
  BEGIN
    -- v1.<8>.<36>.<1-12>.<64>: 115 to 126 characters
    IF token IS NULL OR pg_catalog.length(token) NOT BETWEEN 115 AND 126
       OR pg_catalog.substr(token, 1, 3) <> 'v1.' OR pg_catalog.substr(token, 12, 1) <> '.' THEN
      RETURN NULL;
    END IF;
    raw := pg_catalog.convert_to(token, 'UTF8');
    n := pg_catalog.octet_length(raw);
    SELECT k.hmac_inner, k.hmac_outer INTO pads
      FROM {tenancy}.context_keys k
     WHERE k.kid = pg_catalog.substr(token, 4, 8)
       AND (k.retires_at IS NULL OR k.retires_at > pg_catalog.statement_timestamp());
    IF NOT FOUND OR pg_catalog.sha256(pg_catalog.encode(pg_catalog.sha256(pads.hmac_outer OPERATOR(pg_catalog.||)
         pg_catalog.sha256(pads.hmac_inner OPERATOR(pg_catalog.||) pg_catalog.substr(raw, 1, n - 65))), 'hex')::pg_catalog.bytea)
       OPERATOR(pg_catalog.<>) pg_catalog.sha256(pg_catalog.substr(raw, n - 63)) THEN
      RETURN NULL;
    END IF;
    exp := pg_catalog.split_part(token, '.', 4)::bigint;
    IF pg_catalog.to_timestamp(exp) <= pg_catalog.statement_timestamp()
       OR pg_catalog.to_timestamp(exp) > pg_catalog.statement_timestamp()
          + pg_catalog.make_interval(secs => {context_token_max_ttl_s} + 60) THEN
      RETURN NULL;
    END IF;
    RETURN pg_catalog.split_part(token, '.', 3)::uuid;
  END
  $body$;
  COMMENT ON FUNCTION {tenancy}.current_tenant_id() IS
    'The tenant named by the signed context token in the tenant setting; NULL unless the token is valid (fails closed).';
  REVOKE ALL ON FUNCTION {tenancy}.current_tenant_id() FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION {tenancy}.current_tenant_id() TO {app_role};

  -- SECURITY INVOKER: setting one's own custom setting needs no power; the
  -- verifier above decides what the value is worth. Setting the value first
  -- and verifying through current_tenant_id() keeps one verifier; a raise
  -- undoes the setting with the statement (a savepoint restores the previous
  -- context). No SET search_path clause: an invoker function gives its caller
  -- no power, and every name here is qualified, so no caller's search_path
  -- reaches it; the clause would cost as much per call as the verification.
  CREATE OR REPLACE FUNCTION {tenancy}.set_tenant(context text)
    RETURNS uuid
    LANGUAGE plpgsql
    VOLATILE
    SECURITY INVOKER
  AS $body$
  DECLARE
    tenant pg_catalog.uuid;
  BEGIN
    PERFORM pg_catalog.set_config({tenant_setting}, coalesce(context, ''), true);
    tenant := {tenancy}.current_tenant_id();
    IF tenant IS NULL THEN
      RAISE EXCEPTION 'set_tenant: the tenant context is not a valid signed token'
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'mint a token with the current context key (docs/tenant-context.md) and pass it as a bound parameter: SELECT tenancy.set_tenant($1)';
    END IF;
    RETURN tenant;
  END
  $body$;
  COMMENT ON FUNCTION {tenancy}.set_tenant(text) IS
    'Set the signed tenant context token for the current transaction; returns the tenant id; raises 22023 unless the token is valid.';
  REVOKE ALL ON FUNCTION {tenancy}.set_tenant(text) FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION {tenancy}.set_tenant(text) TO {app_role};
END
$tenantdb$;
