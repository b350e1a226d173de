"""The regrade lock as a table lock (taken without a snapshot, ends with the transaction).

Revision ID: 0014_grading_lock
Revises: 0013_point_liveness
Create Date: 2026-11-29
"""

from db.migrations.sqlfile import run_sql

revision = "0014_grading_lock"
down_revision = "0013_point_liveness"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0014_grading_lock.sql")


def downgrade() -> None:
    run_sql("0014_grading_lock_down.sql")
