"""The first grading's explanations compressed with LZ4 (pglz was a third of their cost).

Revision ID: 0031_explanation_lz4
Revises: 0030_readings_retention
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0031_explanation_lz4"
down_revision = "0030_readings_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0031_explanation_lz4.sql")


def downgrade() -> None:
    run_sql("0031_explanation_lz4_down.sql")
