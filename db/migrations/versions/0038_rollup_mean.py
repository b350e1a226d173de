"""The hourly roll-up compares means with a tolerance: a recomputed hour is not rewritten
for a difference in the last place (avg() over floats depends on the order it reads them).

Revision ID: 0038_rollup_mean
Revises: 0037_first_grading_chunks
Create Date: 2026-12-08
"""

from db.migrations.sqlfile import run_sql

revision = "0038_rollup_mean"
down_revision = "0037_first_grading_chunks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0038_rollup_mean.sql")


def downgrade() -> None:
    run_sql("0038_rollup_mean_down.sql")
