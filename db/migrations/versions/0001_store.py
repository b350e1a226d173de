"""The PostGIS store: every layer, events, readings partitions, grading tables.

Revision ID: 0001_store
Revises:
Create Date: 2026-11-29
"""

from db.migrations.sqlfile import run_sql

revision = "0001_store"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0001_store.sql")


def downgrade() -> None:
    run_sql("0001_store_down.sql")
