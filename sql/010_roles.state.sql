-- 010_roles.state.sql: what 010_roles.sql establishes, as one row. The
-- bootstrap reads it before and after the step: the step changed something
-- exactly when this row changed.
SELECT r.oid IS NOT NULL AS exists,
       r.rolcanlogin     AS login,
       r.rolsuper        AS superuser,
       r.rolbypassrls    AS bypassrls,
       r.rolreplication  AS replication,
       r.rolcreatedb     AS createdb,
       r.rolcreaterole   AS createrole,
       r.rolinherit      AS inherit,
       EXISTS (SELECT FROM pg_catalog.pg_auth_members m
               WHERE m.roleid = r.oid
                 AND m.member = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)) AS master_member
FROM (SELECT 1) AS one
LEFT JOIN pg_catalog.pg_roles r ON r.rolname = {app_role_name};
