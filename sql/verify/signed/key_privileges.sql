-- verify/signed/key_privileges.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user: which privileges it holds on the context key table
-- (must be none).
SELECT p FROM unnest(ARRAY['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p WHERE has_table_privilege({keys_name}::text, p)
