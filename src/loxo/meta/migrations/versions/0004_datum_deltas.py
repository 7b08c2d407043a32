"""Jobs may store their datums as a delta over a base job; output owners by datum.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("datums_base", sa.Integer, nullable=True))
    op.create_index("ix_output_files_job_datum", "output_files", ["job_pk", "datum_id"])


def downgrade() -> None:
    op.drop_index("ix_output_files_job_datum", "output_files")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("datums_base")
