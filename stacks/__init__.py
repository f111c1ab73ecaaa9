"""The CDKTF stacks (cdktf only; nothing under tenantdb/ imports this package).

One construct per concern, each with typed props and safe defaults, the way
AWS CDK's aws-rds is built; :mod:`stacks.database_stack` composes them.
"""
