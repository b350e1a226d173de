"""Readings in bounds: the hourly rollup kept past the raw retention, BRIN on time.

Revision ID: 0030_readings_retention
Revises: 0024_assessment
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0030_readings_retention"
down_revision = "0029_tasks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0030_readings_retention.sql")


def downgrade() -> None:
    run_sql("0030_readings_retention_down.sql")
