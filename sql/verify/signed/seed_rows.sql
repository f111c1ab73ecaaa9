-- verify/signed/seed_rows.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user: two rows of A, one of B. Parameters: A, A, B.
INSERT INTO {table} VALUES (%s, 'a1'), (%s, 'a2'), (%s, 'b1')
