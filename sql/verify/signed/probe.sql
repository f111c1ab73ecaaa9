-- verify/signed/probe.sql: ISO-SIGNED's forgery probe (signed tenant context) in one statement, as
-- app_user (its own login, or SET LOCAL ROLE from the master before it), in a transaction that is
-- rolled back. Input: the transaction-local setting tenantdb.signed_probe, JSON
-- {"a": A's id, "b": B's id, "good": A's valid token, "forged": [contexts for B], "setting": the
-- tenant setting's name} (set by sql/verify/signed/input.sql). Output: the setting
-- tenantdb.signed_probe_result, JSON of what happened; the verifier judges it.
--
-- A temporary table holds 2 rows of A and 1 of B under the tenant policy the bootstrap generates
-- (row security enabled and forced: app_user owns it). With A's valid token set through the helper,
-- the rows app_user reads; then each forged context, through the helper and written to the setting
-- directly, each in a block that is undone: whether B's row is read, inserted, updated, deleted.
-- Last, the privileges app_user holds on the key table and whether a select from it is refused.
-- Placeholders: name (the table's name), table (pg_temp.name), tenancy (schema), keys (the key
-- table), keys_name (its qualified name as text).
DO $tenantdb$
DECLARE
  probe jsonb := pg_catalog.current_setting('tenantdb.signed_probe')::jsonb;
  tenant_a uuid := (probe->>'a')::uuid;
  tenant_b uuid := (probe->>'b')::uuid;
  refused text;
  seen uuid[];
  attempts jsonb := '[]';
  got text[];
  via text;
  forged_value text;
  i int := 0;
  touched bigint;
  held text[];
  key_read text;
BEGIN
  CREATE TEMPORARY TABLE {name} (tenant_id uuid NOT NULL, note text) ON COMMIT DROP;
  INSERT INTO {table} VALUES (tenant_a, 'a1'), (tenant_a, 'a2'), (tenant_b, 'b1');
  ALTER TABLE {table} ENABLE ROW LEVEL SECURITY, FORCE ROW LEVEL SECURITY;
  CREATE POLICY tenant_isolation ON {table} USING (tenant_id = (SELECT {tenancy}.current_tenant_id()))
    WITH CHECK (tenant_id = (SELECT {tenancy}.current_tenant_id()));

  BEGIN
    PERFORM {tenancy}.set_tenant(probe->>'good');
  EXCEPTION WHEN invalid_parameter_value THEN
    refused := SQLERRM;
  END;
  SELECT pg_catalog.array_agg(t.tenant_id) INTO seen FROM {table} t;

  FOR forged_value IN SELECT pg_catalog.jsonb_array_elements_text(probe->'forged') LOOP
    FOREACH via IN ARRAY ARRAY['set_tenant', 'the setting'] LOOP
      got := '{}';
      BEGIN  -- undone at its end (tenantdb.undo), so each attempt starts from A's context
        IF via = 'set_tenant' THEN
          BEGIN
            PERFORM {tenancy}.set_tenant(forged_value);
            got := got || 'set_tenant accepted it'::text;
          EXCEPTION WHEN invalid_parameter_value THEN
            NULL;
          END;
        ELSE
          PERFORM pg_catalog.set_config(probe->>'setting', forged_value, true);
        END IF;
        IF tenant_b = ANY (ARRAY(SELECT t.tenant_id FROM {table} t)) THEN
          got := got || 'read B''s row'::text;
        END IF;
        BEGIN
          INSERT INTO {table} VALUES (tenant_b, 'forged');
          GET DIAGNOSTICS touched = ROW_COUNT;
          IF touched > 0 THEN got := got || 'insert of B''s row'::text; END IF;
        EXCEPTION WHEN insufficient_privilege THEN
          IF SQLERRM NOT LIKE '%row-level security%' THEN got := got || ('insert failed otherwise: ' || SQLERRM); END IF;
        END;
        BEGIN
          UPDATE {table} t SET note = 'forged' WHERE t.tenant_id = tenant_b;
          GET DIAGNOSTICS touched = ROW_COUNT;
          IF touched > 0 THEN got := got || 'update of B''s row'::text; END IF;
        EXCEPTION WHEN insufficient_privilege THEN
          IF SQLERRM NOT LIKE '%row-level security%' THEN got := got || ('update failed otherwise: ' || SQLERRM); END IF;
        END;
        BEGIN
          DELETE FROM {table} t WHERE t.tenant_id = tenant_b;
          GET DIAGNOSTICS touched = ROW_COUNT;
          IF touched > 0 THEN got := got || 'delete of B''s row'::text; END IF;
        EXCEPTION WHEN insufficient_privilege THEN
          IF SQLERRM NOT LIKE '%row-level security%' THEN got := got || ('delete failed otherwise: ' || SQLERRM); END IF;
        END;
        RAISE EXCEPTION 'tenantdb.undo' USING ERRCODE = 'TDB01';
      EXCEPTION WHEN SQLSTATE 'TDB01' THEN
        NULL;  -- the attempt's context and writes are gone; what it got is kept in got
      END;
      attempts := attempts || pg_catalog.jsonb_build_object('i', i, 'via', via, 'got', pg_catalog.to_jsonb(got));
    END LOOP;
    i := i + 1;
  END LOOP;

  SELECT pg_catalog.array_agg(p) INTO held
    FROM pg_catalog.unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p
   WHERE pg_catalog.has_table_privilege({keys_name}::text, p);
  BEGIN
    PERFORM pg_catalog.count(*) FROM {keys};
    key_read := 'allowed';
  EXCEPTION WHEN insufficient_privilege THEN
    key_read := 'refused';
  END;

  PERFORM pg_catalog.set_config('tenantdb.signed_probe_result', pg_catalog.jsonb_build_object(
    'refused', refused, 'seen', pg_catalog.to_jsonb(coalesce(seen, '{}')), 'attempts', attempts,
    'held', pg_catalog.to_jsonb(coalesce(held, '{}')), 'key_read', key_read)::text, true);
END
$tenantdb$
