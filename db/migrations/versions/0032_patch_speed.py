"""The PATCH path's speed: the feature history trigger finds versions by its index.

Revision ID: 0032_patch_speed
Revises: 0031_assessment_hydrants
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0032_patch_speed"
down_revision = "0031_assessment_hydrants"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0032_patch_speed.sql")


def downgrade() -> None:
    run_sql("0032_patch_speed_down.sql")
