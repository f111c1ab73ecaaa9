"""The database wing: connections, the bootstrap, the role model, tenants."""
