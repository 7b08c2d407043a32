"""PFS tables: repos, branches, commits, blobs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "repos",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "branches",
        sa.Column("repo_id", sa.Integer, sa.ForeignKey("repos.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("head", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "commits",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("repo_id", sa.Integer, sa.ForeignKey("repos.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("branch", sa.String(63), nullable=True),
        sa.Column("parent", sa.String(64), nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tree", sa.String(80), nullable=True),
        sa.Column("size_bytes", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("repo_id", "id", name="uq_commits_repo_id"),
    )
    op.create_index("ix_commits_id", "commits", ["id"])
    op.create_index("ix_commits_parent", "commits", ["repo_id", "parent"])
    op.create_table(
        "blobs",
        sa.Column("id", sa.String(80), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("length", sa.BigInteger, nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("codec", sa.SmallInteger, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("blobs")
    op.drop_index("ix_commits_parent", "commits")
    op.drop_index("ix_commits_id", "commits")
    op.drop_table("commits")
    op.drop_table("branches")
    op.drop_table("repos")
