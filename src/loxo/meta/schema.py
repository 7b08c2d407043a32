"""The metadata tables. Alembic migrations under ``migrations/`` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)

metadata = MetaData()

repos = Table(
    "repos",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

branches = Table(
    "branches",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("head", String(64), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

commits = Table(
    "commits",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), nullable=False),
    Column("id", String(64), nullable=False),
    Column("branch", String(63), nullable=True),
    Column("parent", String(64), nullable=True),
    Column("origin", String(16), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    # Root directory blob id; None means the empty tree.
    Column("tree", String(80), nullable=True),
    Column("size_bytes", BigInteger, nullable=False, default=0),
    UniqueConstraint("repo_id", "id", name="uq_commits_repo_id"),
    Index("ix_commits_id", "id"),
    Index("ix_commits_parent", "repo_id", "parent"),
)

blobs = Table(
    "blobs",
    metadata,
    Column("id", String(80), primary_key=True),
    Column("key", String(200), nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("length", BigInteger, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("codec", SmallInteger, nullable=False),
)
