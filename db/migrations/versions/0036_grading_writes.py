"""The first grading's writes: risk_units' write policies decide a city-wide writer once.

Revision ID: 0036_grading_writes
Revises: 0035_explanation_facts
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0036_grading_writes"
down_revision = "0035_explanation_facts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0036_grading_writes.sql")


def downgrade() -> None:
    run_sql("0036_grading_writes_down.sql")
