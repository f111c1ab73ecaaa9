-- 020_database_grants.sql: what app_user may do on the database (AC8).
--
-- CONNECT and TEMPORARY always; CREATE (schema creation, AC8) when the
-- settings say so (app_create_on_database, default true), withdrawn otherwise
-- (the stricter profile in which only the migrator does DDL).
GRANT CONNECT, TEMPORARY ON DATABASE {db_name} TO {app_role};

DO $tenantdb$
BEGIN
  IF {app_create_on_database} THEN
    GRANT CREATE ON DATABASE {db_name} TO {app_role};
  ELSE
    REVOKE CREATE ON DATABASE {db_name} FROM {app_role};
  END IF;
END
$tenantdb$;

-- Nobody creates objects in schema public by default (PostgreSQL 15's default;
-- enforced in case the database was made from an older template).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
