-- session/set_password.sql: as the master, a role's password set to its secret's, sent as a
-- SCRAM-SHA-256 verifier (the server never sees the password itself).
ALTER ROLE {role} PASSWORD {verifier}
