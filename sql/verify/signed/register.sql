-- verify/signed/register.sql: a rolled-back probe's scratch tenants, registered by the master (before the probe
-- becomes app_user) for the probe's transaction only: rolled back with it, never seen by another session. In
-- signed mode set_tenant refuses a token whose tenant is not registered. ISO-SIGNED registers its A and B here.
-- Placeholders: registry; ids, slugs (arrays, in the same order). Each schema name follows the registry's rule,
-- prefix || slug.
INSERT INTO {registry} (tenant_id, slug, schema_name)
SELECT t.id, t.slug, {prefix} || t.slug FROM unnest({ids}::uuid[], {slugs}::text[]) AS t(id, slug)
