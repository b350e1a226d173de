"""Organisations (departments, districts, zones, towns) and the department of each category.

Revision ID: 0015_organisations
Revises: 0014_grading_lock
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0015_organisations"
down_revision = "0014_grading_lock"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0015_organisations.sql")


def downgrade() -> None:
    run_sql("0015_organisations_down.sql")
