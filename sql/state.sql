-- state.sql: the catalog fingerprint for a step without its own NNN_name.state.sql.
-- Everything a bootstrap step can create or change, without OIDs, so a
-- drop-and-recreate that ends where it began counts as no change.
SELECT pg_catalog.md5(coalesce(pg_catalog.string_agg(x, E'\n' ORDER BY x), '')) AS catalog
FROM (
  SELECT 'role ' || rolname || ' ' || row(rolsuper, rolinherit, rolcreaterole, rolcreatedb, rolcanlogin,
         rolreplication, rolbypassrls, rolconnlimit)::text
    FROM pg_catalog.pg_roles WHERE rolname !~ '^pg_'
  UNION ALL
  SELECT 'member ' || pg_catalog.pg_get_userbyid(roleid) || ' ' || pg_catalog.pg_get_userbyid(member)
         || ' ' || admin_option::text
    FROM pg_catalog.pg_auth_members
  UNION ALL
  SELECT 'database ' || datname || ' ' || coalesce(datacl::text, '') FROM pg_catalog.pg_database
  UNION ALL
  SELECT 'schema ' || nspname || ' ' || pg_catalog.pg_get_userbyid(nspowner) || ' ' || coalesce(nspacl::text, '')
    FROM pg_catalog.pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
  UNION ALL
  SELECT 'relation ' || c.oid::pg_catalog.regclass::text || ' ' || c.relkind::text || ' '
         || pg_catalog.pg_get_userbyid(c.relowner) || ' ' || c.relrowsecurity::text || ' '
         || c.relforcerowsecurity::text || ' ' || coalesce(c.relacl::text, '') || ' '
         || coalesce((SELECT pg_catalog.string_agg(a.attname || ':' || a.atttypid::pg_catalog.regtype::text, ','
                                                   ORDER BY a.attnum)
                      FROM pg_catalog.pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                        AND NOT a.attisdropped), '')
    FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT 'constraint ' || conrelid::pg_catalog.regclass::text || ' ' || conname || ' '
         || pg_catalog.pg_get_constraintdef(oid)
    FROM pg_catalog.pg_constraint WHERE connamespace IN
         (SELECT oid FROM pg_catalog.pg_namespace WHERE nspname !~ '^pg_' AND nspname <> 'information_schema')
  UNION ALL
  SELECT 'function ' || p.oid::pg_catalog.regprocedure::text || ' ' || pg_catalog.md5(p.prosrc) || ' '
         || pg_catalog.pg_get_userbyid(p.proowner) || ' ' || p.prosecdef::text || ' '
         || coalesce(p.proconfig::text, '') || ' ' || coalesce(p.proacl::text, '')
    FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'
  UNION ALL
  SELECT 'policy ' || polrelid::pg_catalog.regclass::text || ' ' || polname || ' ' || polcmd::text || ' '
         || polpermissive::text || ' ' || polroles::text || ' '
         || coalesce(pg_catalog.pg_get_expr(polqual, polrelid), '') || ' '
         || coalesce(pg_catalog.pg_get_expr(polwithcheck, polrelid), '')
    FROM pg_catalog.pg_policy
  UNION ALL
  SELECT 'default-acl ' || pg_catalog.pg_get_userbyid(defaclrole) || ' ' || defaclnamespace::pg_catalog.regnamespace::text
         || ' ' || defaclobjtype::text || ' ' || defaclacl::text
    FROM pg_catalog.pg_default_acl
  UNION ALL
  SELECT 'extension ' || extname || ' ' || extversion FROM pg_catalog.pg_extension
  UNION ALL
  SELECT 'comment ' || classoid::pg_catalog.regclass::text || ' ' || objsubid::text || ' ' || pg_catalog.md5(description)
    FROM pg_catalog.pg_description WHERE objoid >= 16384
) AS catalog(x);
