"""The hidden-hazard loop on screen: organisations on hazards and steps, evidence files.

Revision ID: 0019_hazard_loop
Revises: 0018_supervision
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0019_hazard_loop"
down_revision = "0018_supervision"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0019_hazard_loop.sql")


def downgrade() -> None:
    run_sql("0019_hazard_loop_down.sql")
