-- verify/probe/forge_context.sql: the rolled-back isolation probes (ISO-PROBE; AC10 runs it too), as app_user: the tenant setting written directly,
-- bypassing the helper, as an attacker would (a "forge" attempt: it stays for the attempts after it).
SELECT set_config({setting}, {value}, true)
