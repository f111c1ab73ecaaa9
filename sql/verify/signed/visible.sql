-- verify/signed/visible.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user under the context being tried: the tenant ids it reads.
SELECT tenant_id FROM {table}
