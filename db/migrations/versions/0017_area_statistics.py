"""The seed's per-area table; the town of units, hazards and shelters, the area of depots.

Revision ID: 0017_area_statistics
Revises: 0015_organisations
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0017_area_statistics"
down_revision = "0015_organisations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0017_area_statistics.sql")


def downgrade() -> None:
    run_sql("0017_area_statistics_down.sql")
