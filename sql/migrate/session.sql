-- session.sql: the first statements on each tenant's connection, before
-- SQLAlchemy, Alembic or the team's env.py run anything.
--
-- SET ROLE: with the migrator's own login (its secret) this is a no-op; with
-- --master-dsn the master acts as app_migrator, so every object the revisions
-- create is owned by app_migrator and picks up the tenant schema's default
-- privileges (DML for app_user), never owned by the master.
--
-- search_path: the tenant schema first (revisions use unqualified names and
-- create into it), then pg_catalog, then pg_temp last so a temporary table
-- cannot shadow a name. No other schema: app_migrator's session owns every
-- tenant table, so a function or operator planted in public (or any schema
-- another role can create in) must never be resolved by its statements.
SET ROLE {migrator_role};
SET search_path = {tenant_schema}, pg_catalog, pg_temp
