"""tenantdb: provision, bootstrap and verify a multi-tenant PostgreSQL on AWS RDS."""

__version__ = "0.1.0"
