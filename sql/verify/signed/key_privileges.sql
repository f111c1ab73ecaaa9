-- verify/signed/key_privileges.sql: ISO-SIGNED's rolled-back forgery probe, as app_user (a "check" attempt): it
-- holds no privilege on the signing key table. Placeholders: keys (the table's name, a literal), shown (how
-- the report names it).
SELECT count(*) = 0,
       CASE WHEN count(*) = 0 THEN format('holds no privilege on %s', {shown})
            ELSE format('holds %s on %s', string_agg(p, ', '), {shown}) END
FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) p
WHERE has_table_privilege({keys}::text, p)
