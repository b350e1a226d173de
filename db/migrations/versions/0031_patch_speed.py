"""The PATCH path's speed: the feature history trigger finds versions by its index.

Revision ID: 0031_patch_speed
Revises: 0030_readings_retention
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0031_patch_speed"
down_revision = "0030_readings_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0031_patch_speed.sql")


def downgrade() -> None:
    run_sql("0031_patch_speed_down.sql")
