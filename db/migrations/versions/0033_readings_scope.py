"""Readings in scope: a key of an organisation posts readings only for its points (RLS).

Revision ID: 0033_readings_scope
Revises: 0032_patch_speed
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0033_readings_scope"
down_revision = "0032_patch_speed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0033_readings_scope.sql")


def downgrade() -> None:
    run_sql("0033_readings_scope_down.sql")
