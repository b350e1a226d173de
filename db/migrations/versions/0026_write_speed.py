"""The write path's speed: grading versions kept compactly in feature_history.

Revision ID: 0026_write_speed
Revises: 0024_assessment
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0026_write_speed"
down_revision = "0025_event_scope"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0026_write_speed.sql")


def downgrade() -> None:
    run_sql("0026_write_speed_down.sql")
