"""A level change's explanation stored as its facts, rendered to the same JSON on read.

Revision ID: 0035_explanation_facts
Revises: 0034_first_grading
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0035_explanation_facts"
down_revision = "0034_first_grading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0035_explanation_facts.sql")


def downgrade() -> None:
    run_sql("0035_explanation_facts_down.sql")
