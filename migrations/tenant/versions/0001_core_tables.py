"""Story 1.3's core tables: users, documents, audit_logs, tenant_api_keys.

Revision ID: 0001_core_tables
Revises:
Create Date: 2026-12-01

Every table has tenant_id; tenantdb enables and forces row security on each
after this runs. Unique keys lead with tenant_id (two tenants may both have
alice@example.com), and foreign keys are composite (tenant_id, user_id) so a
row can never reference another tenant's user: foreign-key checks do not go
through row security, the composite key does the job. Indexes on tenant_id,
user_id and the timestamp columns, as the story asks.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "0001_core_tables"
down_revision = None
branch_labels = None
depends_on = None

UUID = pg.UUID(as_uuid=False)
NOW = sa.text("pg_catalog.now()")
NEW_ID = sa.text("pg_catalog.gen_random_uuid()")


def _tenant_id() -> sa.Column:
    return sa.Column("tenant_id", UUID, nullable=False)


def _user_fk(name: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], name=name,
                                   ondelete=ondelete)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", UUID, primary_key=True, server_default=NEW_ID),
        _tenant_id(),
        sa.Column("email", sa.Text, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False, server_default="member"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.UniqueConstraint("tenant_id", "id", name="users_tenant_id_id_key"),  # target of composite keys
        sa.UniqueConstraint("tenant_id", "email", name="users_tenant_id_email_key"),
    )
    op.create_index("ix_users_tenant_id", "users", ["tenant_id"])
    op.create_index("ix_users_created_at", "users", ["created_at"])

    op.create_table(
        "documents",
        sa.Column("id", UUID, primary_key=True, server_default=NEW_ID),
        _tenant_id(),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        _user_fk("documents_user_fkey", "CASCADE"),
    )
    op.create_index("ix_documents_tenant_id", "documents", ["tenant_id"])
    op.create_index("ix_documents_user_id", "documents", ["user_id"])
    op.create_index("ix_documents_created_at", "documents", ["created_at"])

    op.create_table(
        "audit_logs",
        sa.Column("id", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        _tenant_id(),
        sa.Column("user_id", UUID, nullable=True),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("details", pg.JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("timestamp", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        # MATCH SIMPLE: a NULL user_id (a system action) needs no user; SET NULL keeps the trail.
        sa.ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"],
                                name="audit_logs_user_fkey", ondelete="SET NULL (user_id)"),
    )
    op.create_index("ix_audit_logs_tenant_id", "audit_logs", ["tenant_id"])
    op.create_index("ix_audit_logs_user_id", "audit_logs", ["user_id"])
    op.create_index("ix_audit_logs_timestamp", "audit_logs", ["timestamp"])

    op.create_table(
        "tenant_api_keys",
        sa.Column("id", UUID, primary_key=True, server_default=NEW_ID),
        _tenant_id(),
        sa.Column("user_id", UUID, nullable=False),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("key_hash", sa.Text, nullable=False),  # a hash, never the key
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("tenant_id", "key_hash", name="tenant_api_keys_tenant_id_key_hash_key"),
        _user_fk("tenant_api_keys_user_fkey", "CASCADE"),
    )
    op.create_index("ix_tenant_api_keys_tenant_id", "tenant_api_keys", ["tenant_id"])
    op.create_index("ix_tenant_api_keys_user_id", "tenant_api_keys", ["user_id"])
    op.create_index("ix_tenant_api_keys_created_at", "tenant_api_keys", ["created_at"])


def downgrade() -> None:
    for table in ("tenant_api_keys", "audit_logs", "documents", "users"):
        op.drop_table(table)
