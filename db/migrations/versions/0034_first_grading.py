"""The first grading's writes: risk_units updated in place (HOT), explanations in LZ4.

Revision ID: 0034_first_grading
Revises: 0033_readings_scope
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0034_first_grading"
down_revision = "0033_readings_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0034_first_grading.sql")


def downgrade() -> None:
    run_sql("0034_first_grading_down.sql")
