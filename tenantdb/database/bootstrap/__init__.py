"""The database wing's bootstrap room: the ordered steps, the role model, the connection secrets
and the extensions."""
