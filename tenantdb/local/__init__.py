"""The local environment: moto as AWS, a PostgreSQL cluster as the instance, real Terraform."""
