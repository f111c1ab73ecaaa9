-- verify/isolation/forge_context.sql: AC10's rolled-back RLS proof, as app_user: the setting written directly, as a
-- forger would (no helper to refuse the value): empty, malformed, or a bare id in signed mode (a "forge" attempt).
SELECT set_config({setting}, {value}, true)
