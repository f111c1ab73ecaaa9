-- verify/signed/set_tenant.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user: a context through the helper, which must verify the
-- token (A's valid one, or a forged one it must refuse). Parameter: the token.
SELECT {tenancy}.set_tenant(%s)
