"""Auth tables: activation, hashed tokens, roles per repo and per cluster.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "auth_activation",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("activated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "auth_tokens",
        sa.Column("hash", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_auth_tokens_subject", "auth_tokens", ["subject"])
    op.create_table(
        "auth_roles",
        sa.Column("repo_id", sa.Integer, sa.ForeignKey("repos.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("subject", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )
    op.create_index("ix_auth_roles_subject", "auth_roles", ["subject"])
    op.create_table(
        "auth_cluster_roles",
        sa.Column("subject", sa.String(128), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("auth_cluster_roles")
    op.drop_table("auth_roles")
    op.drop_table("auth_tokens")
    op.drop_table("auth_activation")
