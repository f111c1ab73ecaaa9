-- verify/probe/forge_context.sql: ISO-PROBE's rolled-back isolation probe, as app_user: the tenant setting written directly, bypassing the helper,
-- as an attacker would. Parameters: the setting's name, the forged value.
SELECT set_config(%s, %s, true)
