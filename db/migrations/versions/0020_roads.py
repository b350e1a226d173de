"""Roads and routing (pgRouting): the road network, its vertices and the speed per road class.

Revision ID: 0020_roads
Revises: 0017_area_statistics
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0020_roads"
down_revision = "0017_area_statistics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0020_roads.sql")


def downgrade() -> None:
    run_sql("0020_roads_down.sql")
