"""The metadata tables. Alembic migrations under ``migrations/`` create exactly these."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
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
    # "user" (data users put), "output" (a pipeline's), "spec" (a pipeline's spec history)
    Column("kind", String(16), nullable=False, default="user", server_default="user"),
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

# Direct provenance: the commits (inputs and the pipeline's spec commit) an output
# commit was computed from. The transitive provenance is walked from these.
commit_provenance = Table(
    "commit_provenance",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("commit_id", String(64), primary_key=True),
    Column("from_repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("from_commit_id", String(64), primary_key=True),
    Index("ix_provenance_from", "from_repo_id", "from_commit_id"),
)

pipelines = Table(
    "pipelines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(63), nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("state", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("salt", String(64), nullable=False),
    Column("spec", Text, nullable=False),
    Column("spec_commit", String(64), nullable=False),
    Column("input_repos", Text, nullable=False),  # JSON list of the repos it reads
)

jobs = Table(
    "jobs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("pipeline_id", Integer, ForeignKey("pipelines.id", ondelete="CASCADE"), nullable=False),
    Column("id", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("spec_commit", String(64), nullable=False),
    Column("salt", String(64), nullable=False),
    Column("inputs", Text, nullable=False),  # JSON: [{name, repo, branch, commit}]
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("data_total", Integer, nullable=False, default=0),
    Column("data_processed", Integer, nullable=False, default=0),
    Column("data_skipped", Integer, nullable=False, default=0),
    Column("data_failed", Integer, nullable=False, default=0),
    Column("data_recovered", Integer, nullable=False, default=0),
    Column("download_bytes", BigInteger, nullable=False, default=0),
    Column("upload_bytes", BigInteger, nullable=False, default=0),
    Column("restart", Integer, nullable=False, default=0),
    # Who runs it ("host:pid") and when it last said so: a job whose runner stopped
    # beating is resumed by the next controller.
    Column("owner", String(128), nullable=True),
    Column("heartbeat_at", DateTime(timezone=True), nullable=True),
    # A job planned by diff stores only what changed since this (whole) job: see
    # loxo.pps.datum_sets.
    Column("datums_base", Integer, nullable=True),
    UniqueConstraint("pipeline_id", "id", name="uq_jobs_pipeline_id"),
    Index("ix_jobs_id", "id"),
)

datums = Table(
    "datums",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("job_pk", Integer, ForeignKey("jobs.pk", ondelete="CASCADE"), nullable=False),
    Column("datum_id", String(80), nullable=False),
    Column("hash", String(80), nullable=False),
    Column("state", String(16), nullable=False),
    Column("output_tree", String(80), nullable=True),
    Column("output_size", BigInteger, nullable=False, default=0),
    Column("inputs", Text, nullable=False),  # JSON: the datum's matched inputs
    Column("error", Text, nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=0),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("download_seconds", Float, nullable=False, default=0.0),
    Column("process_seconds", Float, nullable=False, default=0.0),
    Column("upload_seconds", Float, nullable=False, default=0.0),
    UniqueConstraint("job_pk", "datum_id", name="uq_datums_job_datum"),
    Index("ix_datums_job_hash", "job_pk", "hash"),
)

# Which datum wrote each output file of a job (file-level lineage).
output_files = Table(
    "output_files",
    metadata,
    Column("job_pk", Integer, ForeignKey("jobs.pk", ondelete="CASCADE"), primary_key=True),
    Column("path", Text, primary_key=True),
    Column("datum_id", String(80), nullable=False),
    Index("ix_output_files_job_datum", "job_pk", "datum_id"),
)

logs = Table(
    "logs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("job_pk", Integer, ForeignKey("jobs.pk", ondelete="CASCADE"), nullable=False),
    Column("datum_id", String(80), nullable=True),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("stream", String(8), nullable=False),
    Column("line", Text, nullable=False),
    Index("ix_logs_job_datum", "job_pk", "datum_id"),
)

# -- auth (off until activated) ----------------------------------------------------------
# One row (id 1) while auth is active; in the database so every server process agrees.
auth_activation = Table(
    "auth_activation",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("activated_at", DateTime(timezone=True), nullable=False),
)

# Tokens are stored as the SHA-256 of the token, never the token itself.
auth_tokens = Table(
    "auth_tokens",
    metadata,
    Column("hash", String(64), primary_key=True),
    Column("subject", String(128), nullable=False),  # user:NAME, robot:NAME, pipeline:NAME
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=True),
    Index("ix_auth_tokens_subject", "subject"),
)

# Roles on a repo go with the repo: deleting it deletes them (a new repo of the same
# name starts with none).
auth_roles = Table(
    "auth_roles",
    metadata,
    Column("repo_id", Integer, ForeignKey("repos.id", ondelete="CASCADE"), primary_key=True),
    Column("subject", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
    Index("ix_auth_roles_subject", "subject"),
)

auth_cluster_roles = Table(
    "auth_cluster_roles",
    metadata,
    Column("subject", String(128), primary_key=True),
    Column("role", String(16), nullable=False),
)
