-- bootstrap/strip_app_role.sql: the bootstrap, as a superuser master, in the batch before the roles step: app_user's
-- attributes only a superuser can remove (SUPERUSER, BYPASSRLS, REPLICATION: each a NO-keyword).
ALTER ROLE {app_role} {attributes}
