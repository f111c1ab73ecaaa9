-- 070_no_hooks.state.sql: the hooks 070_no_hooks.sql removes, as one row ('none' when clean).
SELECT coalesce(
         (SELECT pg_catalog.string_agg(r.rolname || coalesce(' in ' || d.datname, '') || ': '
                                       || pg_catalog.array_to_string(
                                            ARRAY(SELECT pg_catalog.split_part(c, '=', 1)
                                                    FROM pg_catalog.unnest(s.setconfig) c), ', '),
                                       '; ' ORDER BY r.rolname, d.datname)
            FROM pg_catalog.pg_db_role_setting s
            JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
            LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
           WHERE r.rolname = ANY ({app_roles}::text[])), 'none') AS role_settings,
       coalesce(
         (SELECT pg_catalog.string_agg(a.rolname || ' in ' || b.rolname, '; ' ORDER BY a.rolname, b.rolname)
            FROM pg_catalog.pg_auth_members m
            JOIN pg_catalog.pg_roles a ON a.oid = m.member
            JOIN pg_catalog.pg_roles b ON b.oid = m.roleid
           WHERE a.rolname = ANY ({app_roles}::text[]) AND b.rolname = ANY ({powerful}::text[])), 'none')
         AS powerful_memberships;
