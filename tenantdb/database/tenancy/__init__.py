"""The database wing's tenancy room: the slug rule, the tenant registry's commands, and signed
mode's context key and tokens."""
