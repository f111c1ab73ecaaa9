-- verify/signed/read_keys.sql: ISO-SIGNED's rolled-back forgery probe, as app_user (a "refused" attempt): a select
-- from the signing key table, which must be refused (42501).
SELECT count(*) FROM {keys}
