-- bootstrap/probe.sql: one read that says whether the bootstrap has anything to do.
--
-- "states" is every step's fingerprint (its NNN_name.state.sql, or state.sql) and the role
-- model's, as one JSON text. The bootstrap records, in the same transaction as its steps, the
-- md5 of the script it ran and of the states as they stood at its end (table bootstrap_state). When both
-- still match (same script, catalog exactly as that run left it), running the idempotent steps
-- again would change nothing, and they are skipped. Also read here: the attributes only a
-- superuser may change, checked before anything runs.
WITH states AS (SELECT {states} AS j)
SELECT states.j AS states,
       pg_catalog.md5(states.j) AS state_md5,
       -- the record table is missing before the first bootstrap: query_to_xml reads it only when it exists
       CASE WHEN pg_catalog.to_regclass({record_table_text}) IS NOT NULL THEN
         (pg_catalog.xpath('/row/r/text()', pg_catalog.query_to_xml(
            'SELECT script_md5 || '' '' || state_md5 AS r FROM ' || {record_table_text}, false, true, '')))[1]::text
       END AS record,
       (SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user) AS master_is_superuser,
       (SELECT pg_catalog.json_agg(r ORDER BY r.rolname) FROM (
          SELECT rolname, rolsuper, rolbypassrls, rolreplication FROM pg_catalog.pg_roles
           WHERE rolname = ANY ({role_names}::text[])) r)::text AS superuser_only
FROM states;
