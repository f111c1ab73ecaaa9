-- context_key/retire.sql: set when one key stops verifying (NULL: it is the current key).
UPDATE {tenancy}.context_keys
   SET retires_at = pg_catalog.to_timestamp(%(retires_at)s::double precision)
 WHERE kid OPERATOR(pg_catalog.=) %(kid)s::text;
