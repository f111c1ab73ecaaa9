-- verify/signed/key_read.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user: reading the context key table, which must be refused.
SELECT count(*) FROM {keys}
