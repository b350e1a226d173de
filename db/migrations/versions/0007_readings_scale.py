"""Readings at scale: liveness rows updated in place (HOT), with the previous reading.

Revision ID: 0007_readings_scale
Revises: 0006_analysis
Create Date: 2026-11-29
"""

from db.migrations.sqlfile import run_sql

revision = "0007_readings_scale"
down_revision = "0006_analysis"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0007_readings_scale.sql")


def downgrade() -> None:
    run_sql("0007_readings_scale_down.sql")
