"""PPS tables: pipelines, jobs, datums, output files, logs; repo kinds and provenance.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("repos") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="user"))
    op.create_table(
        "commit_provenance",
        sa.Column("repo_id", sa.Integer, sa.ForeignKey("repos.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("commit_id", sa.String(64), primary_key=True),
        sa.Column("from_repo_id", sa.Integer, sa.ForeignKey("repos.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("from_commit_id", sa.String(64), primary_key=True),
    )
    op.create_index("ix_provenance_from", "commit_provenance", ["from_repo_id", "from_commit_id"])
    op.create_table(
        "pipelines",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(63), nullable=False, unique=True),
        _when("created_at"),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("spec", sa.Text, nullable=False),
        sa.Column("spec_commit", sa.String(64), nullable=False),
        sa.Column("input_repos", sa.Text, nullable=False),
    )
    op.create_table(
        "jobs",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("pipeline_id", sa.Integer, sa.ForeignKey("pipelines.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("spec_commit", sa.String(64), nullable=False),
        sa.Column("salt", sa.String(64), nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        _when("created_at"),
        _when("started_at", True),
        _when("finished_at", True),
        *(sa.Column(c, sa.Integer, nullable=False) for c in (
            "data_total", "data_processed", "data_skipped", "data_failed", "data_recovered")),
        sa.Column("download_bytes", sa.BigInteger, nullable=False),
        sa.Column("upload_bytes", sa.BigInteger, nullable=False),
        sa.Column("restart", sa.Integer, nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        _when("heartbeat_at", True),
        sa.UniqueConstraint("pipeline_id", "id", name="uq_jobs_pipeline_id"),
    )
    op.create_index("ix_jobs_id", "jobs", ["id"])
    op.create_table(
        "datums",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_pk", sa.Integer, sa.ForeignKey("jobs.pk", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("datum_id", sa.String(80), nullable=False),
        sa.Column("hash", sa.String(80), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("output_tree", sa.String(80), nullable=True),
        sa.Column("output_size", sa.BigInteger, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        _when("started_at", True),
        _when("finished_at", True),
        *(sa.Column(c, sa.Float, nullable=False) for c in (
            "download_seconds", "process_seconds", "upload_seconds")),
        sa.UniqueConstraint("job_pk", "datum_id", name="uq_datums_job_datum"),
    )
    op.create_index("ix_datums_job_hash", "datums", ["job_pk", "hash"])
    op.create_table(
        "output_files",
        sa.Column("job_pk", sa.Integer, sa.ForeignKey("jobs.pk", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("path", sa.Text, primary_key=True),
        sa.Column("datum_id", sa.String(80), nullable=False),
    )
    op.create_table(
        "logs",
        sa.Column("pk", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("job_pk", sa.Integer, sa.ForeignKey("jobs.pk", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("datum_id", sa.String(80), nullable=True),
        _when("ts"),
        sa.Column("stream", sa.String(8), nullable=False),
        sa.Column("line", sa.Text, nullable=False),
    )
    op.create_index("ix_logs_job_datum", "logs", ["job_pk", "datum_id"])


def downgrade() -> None:
    op.drop_table("logs")
    op.drop_table("output_files")
    op.drop_table("datums")
    op.drop_table("jobs")
    op.drop_table("pipelines")
    op.drop_table("commit_provenance")
    with op.batch_alter_table("repos") as batch:
        batch.drop_column("kind")
