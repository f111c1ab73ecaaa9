-- bootstrap/create_database.sql: the bootstrap, the database step, as the master on the admin database: the
-- application database, when it does not exist yet.
CREATE DATABASE {db_name}
