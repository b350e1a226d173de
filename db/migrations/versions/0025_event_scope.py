"""Scoped writes of weather warnings and special periods (row-level security, FORCE).

Revision ID: 0025_event_scope
Revises: 0024_assessment
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0025_event_scope"
down_revision = "0024_assessment"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0025_event_scope.sql")


def downgrade() -> None:
    run_sql("0025_event_scope_down.sql")
