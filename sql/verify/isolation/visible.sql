-- verify/isolation/visible.sql: AC10's rolled-back RLS proof, as app_user under the context being tried (a "count"
-- attempt): how many rows it sees (without a valid context: none).
SELECT count(*) FROM {table}
