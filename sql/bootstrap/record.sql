-- bootstrap/record.sql: the last statement of the bootstrap's transaction. Records the md5 of
-- the script that just ran and of every step's fingerprint as it now stands
-- (as in bootstrap/probe.sql), so the next run can prove it has nothing to do.
-- Only its owner, the master, reads it; it holds no tenant data and no secret.
CREATE TABLE IF NOT EXISTS {record_table} (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  script_md5  text NOT NULL,
  state_md5   text NOT NULL,
  recorded_at timestamptz NOT NULL
);
REVOKE ALL ON {record_table} FROM PUBLIC;
INSERT INTO {record_table} (singleton, script_md5, state_md5, recorded_at)
SELECT true, {script_md5}, pg_catalog.md5({states}), pg_catalog.now()
ON CONFLICT (singleton) DO UPDATE
  SET script_md5 = EXCLUDED.script_md5, state_md5 = EXCLUDED.state_md5, recorded_at = EXCLUDED.recorded_at;
