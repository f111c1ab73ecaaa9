-- 045_tenant_context_signed.state.sql: what 045_tenant_context_signed.sql declares, as one row.
-- The key table's shape and privileges, not its rows: the keys belong to the
-- bootstrap's context-key step, which reports its own changes. The functions'
-- definitions (SECURITY DEFINER and SET clauses included), owners, privileges
-- and comments, migration_context's in both modes.
SELECT t.oid IS NOT NULL AS key_table,
       pg_catalog.pg_get_userbyid(t.relowner) AS key_table_owner,
       t.relacl::text AS key_table_acl,
       (SELECT pg_catalog.md5(pg_catalog.string_agg(a.attname || ':' || a.atttypid::pg_catalog.regtype::text
                                                    || ':' || a.attstattarget::text, ',' ORDER BY a.attnum))
          FROM pg_catalog.pg_attribute a WHERE a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped)
         AS key_table_columns,
       (SELECT pg_catalog.md5(pg_catalog.string_agg(x, E'\n' ORDER BY x)) FROM (
          SELECT pg_catalog.pg_get_constraintdef(c.oid) AS x FROM pg_catalog.pg_constraint c WHERE c.conrelid = t.oid
          UNION ALL SELECT pg_catalog.pg_get_indexdef(i.indexrelid) FROM pg_catalog.pg_index i WHERE i.indrelid = t.oid
          UNION ALL SELECT pg_catalog.pg_get_triggerdef(g.oid) FROM pg_catalog.pg_trigger g
                     WHERE g.tgrelid = t.oid AND NOT g.tgisinternal) d) AS key_table_definition,
       pg_catalog.obj_description(t.oid, 'pg_class') AS key_table_comment,
       pg_catalog.md5(pg_catalog.pg_get_functiondef(pads.oid)) AS pads_definition,
       pads.proacl::text AS pads_acl,
       pg_catalog.md5(pg_catalog.pg_get_functiondef(ctf.oid)) AS verifier_definition,
       pg_catalog.pg_get_userbyid(ctf.proowner) AS verifier_owner,
       ctf.proacl::text AS verifier_acl,
       pg_catalog.obj_description(ctf.oid, 'pg_proc') AS verifier_comment,
       pg_catalog.md5(pg_catalog.pg_get_functiondef(st.oid)) AS set_tenant_definition,
       pg_catalog.pg_get_userbyid(st.proowner) AS set_tenant_owner,
       st.proacl::text AS set_tenant_acl,
       pg_catalog.obj_description(st.oid, 'pg_proc') AS set_tenant_comment,
       pg_catalog.md5(pg_catalog.pg_get_functiondef(mc.oid)) AS migration_context_definition,
       pg_catalog.pg_get_userbyid(mc.proowner) AS migration_context_owner,
       mc.proacl::text AS migration_context_acl,
       pg_catalog.obj_description(mc.oid, 'pg_proc') AS migration_context_comment
FROM (SELECT 1) AS one
LEFT JOIN pg_catalog.pg_namespace n ON n.nspname = {tenancy_schema_name}
LEFT JOIN pg_catalog.pg_class t ON t.relnamespace = n.oid AND t.relname = 'context_keys' AND t.relkind = 'r'
LEFT JOIN pg_catalog.pg_proc pads ON pads.pronamespace = n.oid AND pads.proname = 'context_key_pads'
LEFT JOIN pg_catalog.pg_proc ctf ON ctf.pronamespace = n.oid AND ctf.proname = 'current_tenant_id'
LEFT JOIN pg_catalog.pg_proc st ON st.pronamespace = n.oid AND st.proname = 'set_tenant'
LEFT JOIN pg_catalog.pg_proc mc ON mc.pronamespace = n.oid AND mc.proname = 'migration_context';
