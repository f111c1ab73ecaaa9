-- verify/signed/scratch_table.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user: a temporary scratch table, gone at the end of the
-- transaction.
CREATE TEMPORARY TABLE {name} (tenant_id uuid NOT NULL, note text) ON COMMIT DROP
