-- tenants/contents.sql: what `tenant drop` would drop, as the master: the schema's relations, and
-- the objects outside it that depend on it (views over its tables, foreign keys into them), which
-- stop the drop because CASCADE would silently drop them too. Parameter: the tenant's schema name.

SELECT (SELECT array_agg(c.relname::text ORDER BY c.relname) FROM pg_class c
         WHERE c.relnamespace = n.oid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')) AS relations,
       (SELECT array_agg(DISTINCT dep.oid::regclass::text) FROM pg_depend d
          JOIN pg_rewrite r ON d.classid = 'pg_rewrite'::regclass AND r.oid = d.objid
          JOIN pg_class dep ON dep.oid = r.ev_class
          JOIN pg_class src ON src.oid = d.refobjid AND d.refclassid = 'pg_class'::regclass
         WHERE src.relnamespace = n.oid AND dep.relnamespace <> n.oid) AS outside_views,
       (SELECT array_agg(co.conrelid::regclass::text || '.' || co.conname) FROM pg_constraint co
          JOIN pg_class src ON src.oid = co.confrelid
         WHERE co.contype = 'f' AND src.relnamespace = n.oid AND co.connamespace <> n.oid) AS outside_keys
FROM pg_namespace n WHERE n.nspname = %s
