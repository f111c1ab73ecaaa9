"""What AWS offers and what the stacks hold: reference tables read from AWS's own documents.

The settings validate against them (an instance class, an extension), the stacks and the plan guard
protect what :data:`STATEFUL_RESOURCE_TYPES` lists, and the emulator environments leave out what
:data:`EMULATOR_UNSUPPORTED` lists. Facts about AWS, not settings: nothing here is configured.

STATEFUL_RESOURCE_TYPES lives here, not beside the plan guard (tenantdb/infra/plan_guard.py), because
stacks/ reads it too (``prevent_destroy``) and stacks/ may use only the ground floor.

Ground floor: this module imports nothing of the project's.
"""

from __future__ import annotations

# Memory per instance class in GiB, from the RDS instance class tables.
# @see https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html
# It decides the expected shared_buffers (AC6: 25% of instance memory) and
# rejects classes the toolkit cannot reason about.
INSTANCE_CLASS_MEMORY_GIB: dict[str, int] = {
    "db.t3.micro": 1, "db.t3.small": 2, "db.t3.medium": 4, "db.t3.large": 8,
    "db.t3.xlarge": 16, "db.t3.2xlarge": 32,
    "db.t4g.micro": 1, "db.t4g.small": 2, "db.t4g.medium": 4, "db.t4g.large": 8,
    "db.t4g.xlarge": 16, "db.t4g.2xlarge": 32,
    "db.m5.large": 8, "db.m5.xlarge": 16, "db.m5.2xlarge": 32, "db.m5.4xlarge": 64,
    "db.m6g.large": 8, "db.m6g.xlarge": 16, "db.m6g.2xlarge": 32,
    "db.m6i.large": 8, "db.m6i.xlarge": 16, "db.m6i.2xlarge": 32,
    "db.m7g.large": 8, "db.m7g.xlarge": 16, "db.m7g.2xlarge": 32,
    "db.r5.large": 16, "db.r5.xlarge": 32, "db.r5.2xlarge": 64, "db.r5.4xlarge": 128,
    "db.r6g.large": 16, "db.r6g.xlarge": 32, "db.r6g.2xlarge": 64,
    "db.r6i.large": 16, "db.r6i.xlarge": 32, "db.r6i.2xlarge": 64,
    "db.r7g.large": 16, "db.r7g.xlarge": 32, "db.r7g.2xlarge": 64,
}


EMULATOR_UNSUPPORTED: dict[str, str] = {
    "aws_serverlessapplicationrepository_cloudformation_stack":
        "moto has no Serverless Application Repository (and its Lambda needs docker to run the function)",
    "aws_secretsmanager_secret_rotation":
        "needs the rotation function above; RotateSecret would invoke it",
}
"""The one list of Terraform resource types the stacks leave out where AWS is an emulator, and why.
Everything else is applied to the emulator exactly as to AWS. @see docs/local.md, docs/security.md."""


RDS_EXTENSIONS: dict[int, frozenset[str]] = {15: frozenset({
    # PostgreSQL's contrib modules RDS offers
    "amcheck", "autoinc", "bloom", "btree_gin", "btree_gist", "citext", "cube", "dblink", "dict_int",
    "dict_xsyn", "earthdistance", "fuzzystrmatch", "hstore", "insert_username", "intagg", "intarray",
    "isn", "lo", "ltree", "moddatetime", "old_snapshot", "pageinspect", "pg_buffercache",
    "pg_freespacemap", "pg_prewarm", "pg_stat_statements", "pg_trgm", "pg_visibility", "pg_walinspect",
    "pgcrypto", "pgrowlocks", "pgstattuple", "plperl", "plpgsql", "pltcl", "postgres_fdw", "refint",
    "seg", "sslinfo", "tablefunc", "tcn", "tsm_system_rows", "tsm_system_time", "unaccent", "uuid-ossp",
    "bool_plperl", "hstore_plperl", "jsonb_plperl",
    # third-party extensions RDS packages
    "address_standardizer", "address_standardizer_data_us", "aws_commons", "aws_lambda", "aws_s3",
    "h3", "h3_postgis", "hll", "hypopg", "ip4r", "log_fdw", "mysql_fdw", "oracle_fdw", "orafce", "pg_bigm",
    "pg_cron", "pg_hint_plan", "pg_partman", "pg_proctab", "pg_repack", "pg_similarity", "pg_tle",
    "pg_transport", "pgactive", "pgaudit", "pglogical", "pgrouting", "pgtap", "plcoffee", "plls", "plprofiler",
    "plrust", "plv8", "postgis", "postgis_raster", "postgis_tiger_geocoder", "postgis_topology", "prefix",
    "rdkit", "rds_tools", "tds_fdw", "vector",
})}
"""Extension names (``CREATE EXTENSION`` names: pgvector is ``vector``) RDS for PostgreSQL offers, per
engine major; ``extensions`` must name only these. Checked against the AWS document "Extension versions
for Amazon RDS for PostgreSQL" (Amazon RDS for PostgreSQL release notes), PostgreSQL 15 section, as read
on 2026-12-01. Its rows are project names where they differ: h3-pg is ``h3`` and ``h3_postgis``, pgAudit
``pgaudit``, pgTAP ``pgtap``. Left out: its rows that are not ``CREATE EXTENSION`` names (auto_explain,
decoder_raw, ICU module, wal2json) and flow_control, whose extension name the document does not confirm."""


STATEFUL_RESOURCE_TYPES: dict[str, str] = {
    "aws_db_instance": "the database and every byte in it",
    "aws_kms_key": "the key and every ciphertext made with it (storage, snapshots, secrets)",
    "aws_secretsmanager_secret": "the secret and the credentials the application reads from it",
    "aws_db_parameter_group": "the parameter group; the instance reboots to take a new one",
}
"""Resource type -> what destroying it loses: the one list that `tenantdb plan`'s guard refuses to replace
or destroy and that ``prevent_destroy`` protects in the stacks. @see docs/runbook.md (deliberate replacement)."""
