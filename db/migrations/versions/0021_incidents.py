"""Incidents and dispatch: incident kinds, minimum needs, incidents, dispatches, CAP alerts.

Revision ID: 0021_incidents
Revises: 0020_roads
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0021_incidents"
down_revision = "0020_roads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0021_incidents.sql")


def downgrade() -> None:
    run_sql("0021_incidents_down.sql")
