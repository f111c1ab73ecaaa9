-- bootstrap/role_fingerprint.sql: the declared roles' live state in one catalog query, one row per
-- role: attributes, members, and every privilege they hold on the database, the toolkit's schema,
-- its tables, columns and functions, and in default privileges. The bootstrap compares it before
-- and after the role model's script to say whether the tenancy-roles step changed anything.
-- Every name is schema-qualified (sessions pin search_path anyway) and every array is sorted by its
-- own value in the "C" collation: the same catalog must always give the same fingerprint.
-- Placeholders: {schema} the toolkit's schema, {roles} the declared role names (literals, no bind
-- parameters: the bootstrap sends it inside a multi-statement string).
WITH ns AS (SELECT n.oid FROM pg_catalog.pg_namespace n
             WHERE n.nspname OPERATOR(pg_catalog.=) {schema}::pg_catalog.name)
SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolbypassrls, r.rolcreatedb, r.rolcreaterole,
       r.rolreplication, r.rolinherit,
       (SELECT pg_catalog.array_agg(v ORDER BY v) FROM (
          SELECT pg_catalog.pg_get_userbyid(a.member)::pg_catalog.text COLLATE pg_catalog."C" AS v
            FROM pg_catalog.pg_auth_members a WHERE a.roleid = r.oid) m) AS members,
       (SELECT pg_catalog.array_agg(v ORDER BY v) FROM (
          SELECT x.privilege_type COLLATE pg_catalog."C" AS v
            FROM pg_catalog.pg_database d, pg_catalog.aclexplode(d.datacl) x
           WHERE d.datname = pg_catalog.current_database() AND x.grantee = r.oid) g) AS database,
       (SELECT pg_catalog.array_agg(v ORDER BY v) FROM (
          SELECT pg_catalog.concat_ws(':', n.nspname, x.privilege_type) COLLATE pg_catalog."C" AS v
            FROM pg_catalog.pg_namespace n, pg_catalog.aclexplode(n.nspacl) x
           WHERE n.oid = (SELECT oid FROM ns) AND x.grantee = r.oid) g) AS schema,
       (SELECT pg_catalog.array_agg(v ORDER BY v) FROM (
          SELECT pg_catalog.concat_ws(':', c.relname, x.privilege_type) COLLATE pg_catalog."C" AS v
            FROM pg_catalog.pg_class c, pg_catalog.aclexplode(c.relacl) x
           WHERE c.relnamespace = (SELECT oid FROM ns) AND x.grantee = r.oid
          UNION ALL
          SELECT pg_catalog.concat_ws(':', c.relname, a.attname, x.privilege_type) COLLATE pg_catalog."C"
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid,
                 pg_catalog.aclexplode(a.attacl) x
           WHERE c.relnamespace = (SELECT oid FROM ns) AND x.grantee = r.oid) g) AS tables,
       (SELECT pg_catalog.array_agg(v ORDER BY v) FROM (
          SELECT pg_catalog.concat_ws(':', p.oid::pg_catalog.regprocedure, x.privilege_type) COLLATE pg_catalog."C" AS v
            FROM pg_catalog.pg_proc p, pg_catalog.aclexplode(p.proacl) x
           WHERE p.pronamespace = (SELECT oid FROM ns) AND x.grantee = r.oid) g) AS functions,
       (SELECT pg_catalog.array_agg(v ORDER BY v) FROM (
          SELECT pg_catalog.concat_ws(':', d.defaclobjtype,
                   CASE WHEN d.defaclnamespace = 0::pg_catalog.oid THEN '*'
                        ELSE d.defaclnamespace::pg_catalog.regnamespace::pg_catalog.text END,
                   pg_catalog.pg_get_userbyid(d.defaclrole), x.privilege_type) COLLATE pg_catalog."C" AS v
            FROM pg_catalog.pg_default_acl d, pg_catalog.aclexplode(d.defaclacl) x
           WHERE x.grantee = r.oid) g) AS defaults
FROM pg_catalog.pg_roles r WHERE r.rolname OPERATOR(pg_catalog.=) ANY ({roles}::pg_catalog.name[])
ORDER BY r.rolname
