-- verify/signed/insert_for_other.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user under a forged context: inserting B's row, which the
-- policy must refuse. Parameter: B's tenant id.
INSERT INTO {table} VALUES (%s, 'forged')
