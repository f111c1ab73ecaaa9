-- tenants/pins.sql: the objects OUTSIDE a tenant schema that depend on something in it (a view over
-- its tables, a foreign key into them, a column of its type, a default drawing from its sequence, a
-- policy, trigger or function that uses it), each named with its owner, e.g.
-- "view public.v (owner app_user)". `tenant drop` refuses while there are any (DROP SCHEMA ...
-- CASCADE would drop them silently, and may not be allowed to); a tenant migration that fails with
-- dependent_objects_still_exist (2BP01) names them. Read-only, catalog only; any role may run it.
-- Parameter: schema (the tenant schema's name). One row: pins text[] (NULL: none).
WITH ns AS (
  SELECT n.oid FROM pg_catalog.pg_namespace n WHERE n.nspname OPERATOR(pg_catalog.=) %(schema)s
),
inside AS (  -- what lives in the schema and can be depended on
  SELECT 'pg_catalog.pg_class'::pg_catalog.regclass AS classid, c.oid
    FROM pg_catalog.pg_class c, ns WHERE c.relnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid
    FROM pg_catalog.pg_type t, ns WHERE t.typnamespace OPERATOR(pg_catalog.=) ns.oid
  UNION ALL
  SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid
    FROM pg_catalog.pg_proc p, ns WHERE p.pronamespace OPERATOR(pg_catalog.=) ns.oid
),
dep AS (  -- normal and automatic dependents: what CASCADE would drop with it
  SELECT DISTINCT d.classid, d.objid, d.objsubid
    FROM inside i JOIN pg_catalog.pg_depend d
      ON d.refclassid OPERATOR(pg_catalog.=) i.classid AND d.refobjid OPERATOR(pg_catalog.=) i.oid
   WHERE d.deptype OPERATOR(pg_catalog.=) ANY ('{n,a}'::pg_catalog.char[])
),
named AS (  -- a view's rule as its view; a constraint, default, policy or trigger through its table
  SELECT d.*,
         CASE d.classid
           WHEN 'pg_catalog.pg_rewrite'::pg_catalog.regclass THEN
             (SELECT r.ev_class FROM pg_catalog.pg_rewrite r WHERE r.oid OPERATOR(pg_catalog.=) d.objid)
           WHEN 'pg_catalog.pg_constraint'::pg_catalog.regclass THEN
             (SELECT co.conrelid FROM pg_catalog.pg_constraint co
               WHERE co.oid OPERATOR(pg_catalog.=) d.objid AND co.conrelid OPERATOR(pg_catalog.<>) 0::pg_catalog.oid)
           WHEN 'pg_catalog.pg_attrdef'::pg_catalog.regclass THEN
             (SELECT ad.adrelid FROM pg_catalog.pg_attrdef ad WHERE ad.oid OPERATOR(pg_catalog.=) d.objid)
           WHEN 'pg_catalog.pg_policy'::pg_catalog.regclass THEN
             (SELECT po.polrelid FROM pg_catalog.pg_policy po WHERE po.oid OPERATOR(pg_catalog.=) d.objid)
           WHEN 'pg_catalog.pg_trigger'::pg_catalog.regclass THEN
             (SELECT tg.tgrelid FROM pg_catalog.pg_trigger tg WHERE tg.oid OPERATOR(pg_catalog.=) d.objid)
           WHEN 'pg_catalog.pg_class'::pg_catalog.regclass THEN d.objid
         END AS rel
  FROM dep d
),
placed AS (  -- each with its schema (pg_identify_object's for anything not under a table) and owner
  SELECT CASE WHEN x.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_rewrite'::pg_catalog.regclass
              THEN pg_catalog.pg_describe_object('pg_catalog.pg_class'::pg_catalog.regclass, x.rel, 0)
              ELSE pg_catalog.pg_describe_object(x.classid, x.objid, x.objsubid) END AS what,
         CASE WHEN x.rel IS NOT NULL THEN cn.nspname::pg_catalog.text
              ELSE (pg_catalog.pg_identify_object(x.classid, x.objid, 0)).schema END AS schema,
         coalesce(pg_catalog.pg_get_userbyid(coalesce(c.relowner, p.proowner, t.typowner)), 'unknown') AS owner
    FROM named x
    LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) x.rel
    LEFT JOIN pg_catalog.pg_namespace cn ON cn.oid OPERATOR(pg_catalog.=) c.relnamespace
    LEFT JOIN pg_catalog.pg_proc p ON x.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_proc'::pg_catalog.regclass
                                  AND p.oid OPERATOR(pg_catalog.=) x.objid
    LEFT JOIN pg_catalog.pg_type t ON x.classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_type'::pg_catalog.regclass
                                  AND t.oid OPERATOR(pg_catalog.=) x.objid
)
SELECT pg_catalog.array_agg(DISTINCT pg_catalog.concat(what, ' (owner ', owner, ')')) AS pins
FROM placed
WHERE schema IS DISTINCT FROM %(schema)s
