-- verify/probe/attempts.sql: the engine of ISO-PROBE, ISO-PROBE-ROLE and AC10 (tenantdb/verify/batch.py).
--
-- One DO block runs a list of attempts, each [key, kind, statement], in order, in the
-- session's current role and tenant context, and reports each on its own with one line
--   RAISE INFO '<nonce>|<key>|ok|<what happened>'   or   '<nonce>|<key>|problem|<what happened>'
-- (INFO always reaches the client, whatever client_min_messages says; the nonce is the
-- caller's, so no other message can pass for a result). The caller checks that every
-- expected key came back exactly once: a missing result is a failure, never a pass.
--
-- Each attempt but "forge" runs in its own sub-transaction that is undone afterwards (the
-- custom SQLSTATE TDB01 rolls it back even when it succeeded), so attempts stay independent
-- and none leaves anything behind. Kinds, judged here, on the server:
--   count    a SELECT of one number: ok when it is 0                 -> rows:<n> | raised:<error>
--   none     a write: ok when it touches no row                      -> rows:<n> | raised:<error>
--   refused  ok only when refused with insufficient_privilege (42501) -> refused | succeeded | other:<error>
--   policy   as refused, and the refusal must name row-level security
--   check    a SELECT of (ok boolean, fact text)                      -> fact:<text> | raised:<error>
--   require  as check, and the whole batch stops when it is not ok (nothing else runs as the wrong role)
--   forge    a statement whose effect stays (the tenant setting written directly, as an attacker
--            would); ok when it runs                                  -> set | raised:<error>
--   deny     a statement whose effect stays if it runs (a forged context handed to the helper);
--            ok only when refused with insufficient_privilege or the SQLSTATE of its suffix
--            (deny|22023: the signed helper refuses a token that does not verify); when it runs
--            that is a problem, and what it set is in force for the attempts after it, which then
--            show what the forgery opens                              -> refused | succeeded | other:<error>
-- count, none and refused may carry one suffix, "|22P02" (count|22P02, none|22P02, refused|22P02):
-- the attempt runs in a forged context that is not a tenant id, so it may also be refused with
-- invalid_text_representation (plain mode's current_tenant_id() casts the setting to uuid and
-- raises), which is ok                                                -> notid
-- Without the suffix a 22P02 is a problem like any other error. Any row read or touched, or a
-- write that succeeds, stays a problem with it.
-- The statements are the toolkit's own, rendered from sql/ files with psycopg.sql.
DO $attempts$
DECLARE
  nonce constant text := {nonce};
  steps constant text[] := {steps};
  step text[];
  kind text;
  suffix text;
  not_id_ok boolean;
  n bigint;
  ok boolean;
  fact text;
  result text;
BEGIN
  FOREACH step SLICE 1 IN ARRAY steps LOOP
    n := NULL; ok := NULL; fact := NULL;
    kind := pg_catalog.split_part(step[2], '|', 1);
    suffix := pg_catalog.split_part(step[2], '|', 2);
    not_id_ok := suffix = '22P02' AND kind IN ('count', 'none', 'refused');
    IF kind IN ('forge', 'deny') THEN
      BEGIN
        EXECUTE step[3];  -- not undone: its effect stays for the attempts after it
        result := CASE kind WHEN 'forge' THEN 'ok|set' ELSE 'problem|succeeded' END;
      EXCEPTION WHEN OTHERS THEN  -- the block's savepoint undoes whatever it did
        result := CASE
          WHEN kind = 'forge' THEN 'problem|raised:' || SQLERRM
          WHEN SQLSTATE = '42501' OR SQLSTATE = suffix THEN 'ok|refused'
          ELSE 'problem|other:' || SQLERRM END;
      END;
    ELSE
      BEGIN
        IF kind IN ('check', 'require') THEN
          EXECUTE step[3] INTO ok, fact;
        ELSIF kind = 'count' THEN
          EXECUTE step[3] INTO n;
        ELSE
          EXECUTE step[3];
          GET DIAGNOSTICS n = ROW_COUNT;
        END IF;
        RAISE SQLSTATE 'TDB01';  -- undo the attempt, whatever it did
      EXCEPTION
        WHEN SQLSTATE 'TDB01' THEN
          result := CASE
            WHEN kind IN ('count', 'none') THEN
              CASE WHEN n = 0 THEN 'ok' ELSE 'problem' END || '|rows:' || coalesce(n::text, '?')
            WHEN kind IN ('check', 'require') THEN
              CASE WHEN ok THEN 'ok' ELSE 'problem' END || '|fact:' || coalesce(fact, '')
            ELSE 'problem|succeeded' END;
        WHEN insufficient_privilege THEN
          result := CASE
            WHEN kind = 'refused' OR (kind = 'policy' AND SQLERRM LIKE '%row-level security%')
              THEN 'ok|refused'
            WHEN kind IN ('refused', 'policy') THEN 'problem|other:' || SQLERRM
            ELSE 'problem|raised:' || SQLERRM END;
        WHEN invalid_text_representation THEN
          result := CASE
            WHEN not_id_ok THEN 'ok|notid'
            WHEN kind IN ('refused', 'policy') THEN 'problem|other:' || SQLERRM
            ELSE 'problem|raised:' || SQLERRM END;
        WHEN OTHERS THEN
          result := CASE WHEN kind IN ('refused', 'policy') THEN 'problem|other:' ELSE 'problem|raised:' END
                    || SQLERRM;
      END;
    END IF;
    RAISE INFO '%|%|%', nonce, step[1], result;
    IF kind = 'require' AND result NOT LIKE 'ok|%' THEN
      RAISE EXCEPTION 'the probe stopped: % (%)', step[1], result;
    END IF;
  END LOOP;
END
$attempts$
