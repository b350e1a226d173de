"""Liveness in blocks of 128 points (point_liveness): a batch of readings rewrites ~14
rows instead of updating one row per point; monitoring_point_state becomes a view.

Revision ID: 0013_point_liveness
Revises: 0012_event_fingerprints
Create Date: 2026-11-29
"""

from db.migrations.sqlfile import run_sql

revision = "0013_point_liveness"
down_revision = "0012_event_fingerprints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0013_point_liveness.sql")


def downgrade() -> None:
    run_sql("0013_point_liveness_down.sql")
