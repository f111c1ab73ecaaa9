"""The database wing's bootstrap room: the ordered steps, what each reports, the bootstrap's lock,
the role model, the connection secrets and the extensions."""
