"""Helpers for metre-based spatial analysis on EPSG:4326 geometries.

Revision ID: 0006_analysis
Revises: 0004_grading
Create Date: 2026-11-29
"""

from db.migrations.sqlfile import run_sql

revision = "0006_analysis"
down_revision = "0004_grading"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0006_analysis.sql")


def downgrade() -> None:
    run_sql("0006_analysis_down.sql")
