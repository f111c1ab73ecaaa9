-- verify/signed/tls.sql: ISO-SIGNED's rolled-back forgery probe, on app_user's own login (a "check" attempt that
-- always holds): the session's TLS as the server sees it (session/tls.sql) as JSON, so that the TLS facts of a
-- connection opened for the probe ride on its one round trip.
SELECT true, row_to_json(tls)::text FROM ({tls}
) tls
