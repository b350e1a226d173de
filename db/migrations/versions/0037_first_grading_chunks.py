"""A first grading in chunks on several connections: a layer's version bump may be deferred.

Revision ID: 0037_first_grading_chunks
Revises: 0036_grading_writes
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0037_first_grading_chunks"
down_revision = "0036_grading_writes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0037_first_grading_chunks.sql")


def downgrade() -> None:
    run_sql("0037_first_grading_chunks_down.sql")
