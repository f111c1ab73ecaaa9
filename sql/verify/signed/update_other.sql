-- verify/signed/update_other.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user under a forged context: an update of B's rows, which
-- must touch none. Parameter: B's tenant id.
UPDATE {table} SET note = 'forged' WHERE tenant_id = %s
