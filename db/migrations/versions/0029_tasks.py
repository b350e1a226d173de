"""Assessment tasks: derived from the framework's items, assigned to organisations with due
dates, their progress updates and evidence; row-level security by organisation.

Revision ID: 0029_tasks
Revises: 0024_assessment
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0029_tasks"
down_revision = "0028_assessment_evidence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0029_tasks.sql")


def downgrade() -> None:
    run_sql("0029_tasks_down.sql")
