-- 045_tenant_context_signed.sql: the signed tenant context (settings tenant_context = signed).
--
-- In signed mode the context the application sets is a token, not a tenant
-- id, through the same helper as in plain mode (SELECT tenancy.set_tenant($1)):
--
--     v1.<kid>.<tenant uuid>.<exp>.<mac>
--     mac = lower-case hex of HMAC-SHA256(key, 'v1.<kid>.<tenant uuid>.<exp>')
--
-- (docs/tenant-context.md; tenantdb/database/tenancy/context_token.py mints one).
-- tenancy.current_tenant_id() returns the tenant only for a token that is
-- well formed, unexpired, not too far in the future, and MACed under a key
-- that is current or still retiring; anything else (a bare uuid, a wrong
-- MAC, a tampered id, an expired token, a retired key, a value written to
-- the setting directly) gives NULL, so policies match no row. Expiry and
-- retirement are judged against the clock each time a query's policy runs
-- it, so a token stops naming its tenant at its expiry even inside one long
-- statement (a DO block, a function).
--
-- What this file declares, only when tenant_context = signed:
--   tenancy.context_keys        the keys; no grant to anyone: only its owner
--                               (the master) reads it
--   tenancy.context_key_pads()  trigger: derives HMAC's inner and outer keys
--                               once, when a key is stored (RFC 2104)
--   tenancy.current_tenant_id() SECURITY DEFINER (as the master, the key's
--                               owner), search_path pinned: the verifier
--   tenancy.set_tenant(text)    SECURITY DEFINER: sets the token for the
--                               transaction; raises 22023 when it does not
--                               verify or its tenant is not registered
--   tenancy.migration_context(uuid)
--                               SECURITY DEFINER, for the migrator only: a
--                               token for a registered tenant, minted here
--                               with the current key (tenant migrations)
-- The keys themselves are written by the bootstrap's context-key step
-- (tenantdb/database/tenancy/context_key.py), by COPY, so key material never appears
-- in statement text, bound parameters or the server log.
--
-- In plain mode 040_tenancy.sql defines current_tenant_id and set_tenant and
-- this file drops the key table and the trigger function: a key nobody
-- verifies with is only a liability. (Switching back to signed regenerates
-- or, through AWS, restores the keys from the context key secret.)
-- migration_context exists in both modes, so the migrate worker has one line
-- for both and its grant (the role model's) survives a switch: in plain mode
-- it returns a registered tenant's bare id.
--
-- Cost: policies call (SELECT tenancy.current_tenant_id()), an InitPlan, so
-- the MAC is checked once per query, not per row. No verified result is
-- cached: any cache app_user could reach (a setting, a temporary table) is a
-- cache app_user could forge. The check is two built-in sha256() calls over
-- precomputed pads and one primary-key probe of a tiny table (pgcrypto is not
-- needed). The registry is read by set_tenant (once per transaction), never
-- by the policies.
DO $tenantdb$
BEGIN
  IF {tenant_context} <> 'signed' THEN
    DROP TABLE IF EXISTS {tenancy}.context_keys;
    DROP FUNCTION IF EXISTS {tenancy}.context_key_pads();
    -- Plain mode: the context is the tenant id, so the migrator's context is
    -- the registered tenant's bare id. SECURITY INVOKER: the migrator reads
    -- the registry itself (the role model grants it SELECT).
    CREATE OR REPLACE FUNCTION {tenancy}.migration_context(tenant pg_catalog.uuid)
      RETURNS pg_catalog.text
      LANGUAGE plpgsql
      STABLE
      SECURITY INVOKER
      SET search_path = pg_catalog, pg_temp
    AS $body$
    BEGIN
      IF tenant IS NULL OR NOT EXISTS (SELECT FROM {tenancy}.tenants t WHERE t.tenant_id OPERATOR(pg_catalog.=) tenant) THEN
        RAISE EXCEPTION 'migration_context: the tenant is not registered'
          USING ERRCODE = 'invalid_parameter_value', HINT = 'register it first: tenantdb tenant create SLUG';
      END IF;
      RETURN tenant::pg_catalog.text;
    END
    $body$;
    COMMENT ON FUNCTION {tenancy}.migration_context(pg_catalog.uuid) IS
      'The tenant context for a migration of this registered tenant (plain mode: its id); raises 22023 for an unregistered tenant. For the migrator only.';
    REVOKE ALL ON FUNCTION {tenancy}.migration_context(pg_catalog.uuid) FROM PUBLIC, {app_role};
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
  -- error). Every byte it reads is covered: bytes 1 to n-65 are the MACed
  -- message, n-63 to n the MAC (compared whole), and byte n-64, the separator
  -- between them, which the MAC does not cover, is checked literally. Only
  -- after the MAC holds are the id and the expiry read: the message was then
  -- made by a key holder, in the format above, all ASCII, so split_part and
  -- the casts cannot fail. The two MACs are compared as their sha256 (a byte
  -- comparison of hashes leaks no usable timing about the expected MAC).
  -- Expiry and key retirement are judged against clock_timestamp(), read once
  -- per call: the policies' InitPlan calls this once per query, so each query
  -- judges the token when it runs, and one that starts after the expiry (or
  -- the key's retirement) sees no tenant, even inside a statement that began
  -- before (a DO block, a function looping). STABLE all the same: the planner
  -- may then evaluate it fewer times, never more stale than one query.
  -- Written for speed, since every query on a tenant table runs it once:
  -- no regular expression (PostgreSQL's engine took ~30 us on this
  -- pattern), no array, one primary-key probe, no registry look-up.
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
    clock pg_catalog.timestamptz := pg_catalog.clock_timestamp();
    raw   pg_catalog.bytea;
    n     pg_catalog.int4;
    pads  record;
    exp   pg_catalog.timestamptz;
  BEGIN
    -- v1.<8>.<36>.<1-12>.<64>: 115 to 126 characters
    IF token IS NULL OR pg_catalog.length(token) NOT BETWEEN 115 AND 126
       OR pg_catalog.substr(token, 1, 3) <> 'v1.' OR pg_catalog.substr(token, 12, 1) <> '.' THEN
      RETURN NULL;
    END IF;
    raw := pg_catalog.convert_to(token, 'UTF8');
    n := pg_catalog.octet_length(raw);
    IF pg_catalog.get_byte(raw, n - 65) OPERATOR(pg_catalog.<>) 46 THEN  -- byte n-64 must be '.'
      RETURN NULL;
    END IF;
    SELECT k.hmac_inner, k.hmac_outer INTO pads
      FROM {tenancy}.context_keys k
     WHERE k.kid = pg_catalog.substr(token, 4, 8)
       AND (k.retires_at IS NULL OR k.retires_at OPERATOR(pg_catalog.>) clock);
    IF NOT FOUND OR pg_catalog.sha256(pg_catalog.encode(pg_catalog.sha256(pads.hmac_outer OPERATOR(pg_catalog.||)
         pg_catalog.sha256(pads.hmac_inner OPERATOR(pg_catalog.||) pg_catalog.substr(raw, 1, n - 65))), 'hex')::pg_catalog.bytea)
       OPERATOR(pg_catalog.<>) pg_catalog.sha256(pg_catalog.substr(raw, n - 63)) THEN
      RETURN NULL;
    END IF;
    exp := pg_catalog.to_timestamp(pg_catalog.split_part(token, '.', 4)::pg_catalog.int8);
    IF exp OPERATOR(pg_catalog.<=) clock
       OR exp OPERATOR(pg_catalog.>) (clock OPERATOR(pg_catalog.+) pg_catalog.make_interval(secs => {context_token_max_ttl_s} + 60)) THEN
      RETURN NULL;
    END IF;
    RETURN pg_catalog.split_part(token, '.', 3)::pg_catalog.uuid;
  END
  $body$;
  COMMENT ON FUNCTION {tenancy}.current_tenant_id() IS
    'The tenant named by the signed context token in the tenant setting; NULL unless the token is valid when the query runs (fails closed).';
  REVOKE ALL ON FUNCTION {tenancy}.current_tenant_id() FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION {tenancy}.current_tenant_id() TO {app_role};

  -- Sets the token transaction-locally, then verifies it through
  -- current_tenant_id() (one verifier), then refuses a tenant that is no
  -- longer registered (dropped): a token outlives the tenant it names.
  -- SECURITY DEFINER only for that registry look-up (app_user holds no
  -- privilege on the registry); it is reached only after the MAC held, so it
  -- answers only about the tenant of a token the caller already holds: no
  -- way to enumerate tenant ids. search_path pinned and every name
  -- qualified. The setting survives the function's exit (the SET clause
  -- restores only search_path); a raise undoes it with the statement (a
  -- savepoint restores the previous context). Once per transaction, so the
  -- SET clause and the primary-key probe cost the application little.
  CREATE OR REPLACE FUNCTION {tenancy}.set_tenant(context text)
    RETURNS uuid
    LANGUAGE plpgsql
    VOLATILE
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
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
    IF NOT EXISTS (SELECT FROM {tenancy}.tenants t WHERE t.tenant_id OPERATOR(pg_catalog.=) tenant) THEN
      RAISE EXCEPTION 'set_tenant: the token names a tenant that is not registered'
        USING ERRCODE = 'invalid_parameter_value',
              HINT = 'the tenant was dropped (or never created): its tokens name nobody';
    END IF;
    RETURN tenant;
  END
  $body$;
  COMMENT ON FUNCTION {tenancy}.set_tenant(text) IS
    'Set the signed tenant context token for the current transaction; returns the tenant id; raises 22023 unless the token is valid and its tenant registered.';
  REVOKE ALL ON FUNCTION {tenancy}.set_tenant(text) FROM PUBLIC;
  GRANT EXECUTE ON FUNCTION {tenancy}.set_tenant(text) TO {app_role};

  -- The migrator's context for one registered tenant's migration: a token
  -- minted here with the current key (the format above, HMAC over the
  -- stored pads), living context_token_max_ttl_s. It is a result, never
  -- statement text or a bound parameter, so no log or statistics view holds
  -- it; the worker hands it straight to set_config, on the server:
  --   SELECT pg_catalog.set_config(<tenant setting>,
  --            tenancy.migration_context($1::uuid), true) IS NOT NULL
  -- This gives the migrator no new power: it owns every tenant table and may
  -- already read and change their rows (or drop their policies) as owner;
  -- the token only lets row security, which FORCE applies to the owner too,
  -- see the one tenant it migrates. The key never leaves the database.
  -- EXECUTE only for the migrator (the role model grants it; never app_user,
  -- never PUBLIC: app_user must not mint). SECURITY DEFINER to read the keys
  -- as their owner; search_path pinned, every name qualified. An unregistered
  -- tenant (never created, or dropped) is refused before any key is read.
  CREATE OR REPLACE FUNCTION {tenancy}.migration_context(tenant pg_catalog.uuid)
    RETURNS pg_catalog.text
    LANGUAGE plpgsql
    VOLATILE
    SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
  AS $body$
  DECLARE
    k       record;
    message pg_catalog.text;
  BEGIN
    IF tenant IS NULL OR NOT EXISTS (SELECT FROM {tenancy}.tenants t WHERE t.tenant_id OPERATOR(pg_catalog.=) tenant) THEN
      RAISE EXCEPTION 'migration_context: the tenant is not registered'
        USING ERRCODE = 'invalid_parameter_value', HINT = 'register it first: tenantdb tenant create SLUG';
    END IF;
    SELECT c.kid, c.hmac_inner, c.hmac_outer INTO k FROM {tenancy}.context_keys c WHERE c.retires_at IS NULL;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'migration_context: no current context key'
        USING ERRCODE = 'object_not_in_prerequisite_state', HINT = 'run tenantdb bootstrap (tenant_context = signed)';
    END IF;
    message := pg_catalog.concat('v1.', k.kid, '.', tenant::pg_catalog.text, '.',
      pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()))::pg_catalog.int8
        OPERATOR(pg_catalog.+) {context_token_max_ttl_s});
    RETURN pg_catalog.concat(message, '.', pg_catalog.encode(pg_catalog.sha256(k.hmac_outer OPERATOR(pg_catalog.||)
      pg_catalog.sha256(k.hmac_inner OPERATOR(pg_catalog.||) pg_catalog.convert_to(message, 'UTF8'))), 'hex'));
  END
  $body$;
  COMMENT ON FUNCTION {tenancy}.migration_context(pg_catalog.uuid) IS
    'A context token for a migration of this registered tenant, minted with the current key (signed mode); raises 22023 for an unregistered tenant. For the migrator only.';
  REVOKE ALL ON FUNCTION {tenancy}.migration_context(pg_catalog.uuid) FROM PUBLIC, {app_role};
END
$tenantdb$;
