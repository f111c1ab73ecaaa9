-- tenants/pins.sql: the objects OUTSIDE a tenant schema that depend on something in it (a view over
-- its tables, a foreign key into them, a column of its type, a default drawing from its sequence, a
-- policy, trigger or function that uses it, statistics kept elsewhere on its columns), each named with
-- its owner, e.g.
-- "view public.v (owner app_user)". `tenant drop` refuses while there are any (DROP SCHEMA ...
-- CASCADE would drop them silently, and may not be allowed to); a tenant migration that fails with
-- dependent_objects_still_exist (2BP01) names them. Read-only, catalog only; any role may run it.
-- Parameter: schema (the tenant schema's name). One row: pins text[] (NULL: none).
--
-- The one judgement of a pin: the verifier's ISO-PINS (sql/verify/posture.sql) runs the part from
-- "pinned:" to the final SELECT over every tenant schema at once, its tenant schemas as the scope
-- (tenantdb/verify/posture.py composes it in), so it fails on exactly what `tenant drop` refuses over.
WITH scope AS (   -- the schema whose objects may be pinned
  SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) %(schema)s
),
-- pinned: dependencies on the scope's relations, types and functions held from outside the schema
dependency AS (   -- normal and automatic ones: what DROP refuses over, or CASCADE drops with it
                  -- (IS TRUE keeps each a hashed filter: it runs over every tenant schema at once)
  SELECT d.classid, d.objid, d.objsubid, d.refclassid, d.refobjid
  FROM pg_catalog.pg_depend d
  WHERE d.deptype OPERATOR(pg_catalog.=) ANY ('{n,a}'::pg_catalog.char[])
    AND CASE d.refclassid
          WHEN 'pg_catalog.pg_class'::pg_catalog.regclass
          THEN (d.refobjid OPERATOR(pg_catalog.=) ANY (
                  SELECT c.oid FROM pg_catalog.pg_class c
                  WHERE c.relnamespace OPERATOR(pg_catalog.=) ANY (SELECT oid FROM scope))) IS TRUE
          WHEN 'pg_catalog.pg_type'::pg_catalog.regclass   -- few rows (columns of a non-built-in type): one by one
          THEN (SELECT t.typnamespace FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) d.refobjid)
               OPERATOR(pg_catalog.=) ANY (SELECT oid FROM scope)
          WHEN 'pg_catalog.pg_proc'::pg_catalog.regclass
          THEN (d.refobjid OPERATOR(pg_catalog.=) ANY (
                  SELECT p.oid FROM pg_catalog.pg_proc p
                  WHERE p.pronamespace OPERATOR(pg_catalog.=) ANY (SELECT oid FROM scope))) IS TRUE
          ELSE false END
),
placed AS (   -- each with the relation it belongs to (a view's rule, a policy, trigger or default's table) and
              -- the schema it lives in, and the schema of what it depends on
  SELECT d.*, a.rel, a.nsp,
         CASE d.refclassid
           WHEN 'pg_catalog.pg_class'::pg_catalog.regclass
           THEN (SELECT c.relnamespace FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) d.refobjid)
           WHEN 'pg_catalog.pg_type'::pg_catalog.regclass
           THEN (SELECT t.typnamespace FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) d.refobjid)
           ELSE (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) d.refobjid)
         END AS refnsp
  FROM dependency d,
       LATERAL (SELECT CASE d.classid
                         WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN d.objid
                         WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass
                         THEN (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid OPERATOR(pg_catalog.=) d.objid)
                         WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass
                         THEN (SELECT p.polrelid FROM pg_catalog.pg_policy p WHERE p.oid OPERATOR(pg_catalog.=) d.objid)
                         WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass
                         THEN (SELECT t.tgrelid FROM pg_catalog.pg_trigger t WHERE t.oid OPERATOR(pg_catalog.=) d.objid)
                         WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass
                         THEN (SELECT ad.adrelid FROM pg_catalog.pg_attrdef ad WHERE ad.oid OPERATOR(pg_catalog.=) d.objid)
                       END AS rel) owning,
       LATERAL (SELECT owning.rel,
                       CASE WHEN owning.rel IS NOT NULL
                            THEN (SELECT c.relnamespace FROM pg_catalog.pg_class c
                                  WHERE c.oid OPERATOR(pg_catalog.=) owning.rel)
                            WHEN d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass
                            THEN (SELECT co.connamespace FROM pg_catalog.pg_constraint co
                                  WHERE co.oid OPERATOR(pg_catalog.=) d.objid)
                            WHEN d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                            THEN (SELECT p.pronamespace FROM pg_catalog.pg_proc p WHERE p.oid OPERATOR(pg_catalog.=) d.objid)
                            WHEN d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
                            THEN (SELECT t.typnamespace FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) d.objid)
                            -- anything else (an operator, a cast, ...) by the schema the catalog names for it
                            ELSE (SELECT n.oid FROM pg_catalog.pg_namespace n
                                  WHERE n.nspname OPERATOR(pg_catalog.=)
                                        (pg_catalog.pg_identify_object(d.classid, d.objid, 0)).schema) END AS nsp) a
  -- the bulk, a tenant policy's use of its own table's columns, is left out before any look-up
  WHERE NOT (d.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_policy'::pg_catalog.regclass
             AND ((d.objid, d.refobjid) IN (SELECT oid, polrelid FROM pg_catalog.pg_policy)) IS TRUE)
),
pinned AS (   -- held from outside the schema of what it depends on: named, with its owner
  SELECT p.classid, p.objid, p.objsubid, p.refclassid, p.refobjid, p.rel,
         CASE WHEN p.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
              THEN pg_catalog.pg_describe_object('pg_catalog.pg_class'::pg_catalog.regclass, p.rel, 0)
              ELSE pg_catalog.pg_describe_object(p.classid, p.objid, p.objsubid) END AS what,
         pg_catalog.pg_get_userbyid(CASE
           WHEN p.rel IS NOT NULL
           THEN (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid OPERATOR(pg_catalog.=) p.rel)
           WHEN p.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
           THEN (SELECT f.proowner FROM pg_catalog.pg_proc f WHERE f.oid OPERATOR(pg_catalog.=) p.objid)
           WHEN p.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
           THEN (SELECT t.typowner FROM pg_catalog.pg_type t WHERE t.oid OPERATOR(pg_catalog.=) p.objid)
           WHEN p.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_operator'::pg_catalog.regclass
           THEN (SELECT o.oprowner FROM pg_catalog.pg_operator o WHERE o.oid OPERATOR(pg_catalog.=) p.objid)
           WHEN p.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_statistic_ext'::pg_catalog.regclass
           THEN (SELECT x.stxowner FROM pg_catalog.pg_statistic_ext x WHERE x.oid OPERATOR(pg_catalog.=) p.objid)
           WHEN p.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_constraint'::pg_catalog.regclass
           THEN (SELECT coalesce(c.relowner, t.typowner) FROM pg_catalog.pg_constraint co
                   LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) co.conrelid
                   LEFT JOIN pg_catalog.pg_type t ON t.oid OPERATOR(pg_catalog.=) co.contypid
                 WHERE co.oid OPERATOR(pg_catalog.=) p.objid) END) AS owner
  FROM placed p
  WHERE p.nsp IS DISTINCT FROM p.refnsp
)
SELECT pg_catalog.array_agg(DISTINCT pg_catalog.concat(p.what, ' (owner ', coalesce(p.owner::pg_catalog.text, 'unknown'),
                                                        ')')) AS pins
FROM pinned p
