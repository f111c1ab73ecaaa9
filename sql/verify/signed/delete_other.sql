-- verify/signed/delete_other.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user under a forged context: a delete of B's rows, which
-- must touch none. Parameter: B's tenant id.
DELETE FROM {table} WHERE tenant_id = %s
