-- verify/signed/forge_context.sql: ISO-SIGNED's rolled-back forgery probe (signed tenant context), as app_user: a forged context written to the setting directly,
-- bypassing the helper. Parameters: the setting's name, the forged value.
SELECT set_config(%s, %s, true)
