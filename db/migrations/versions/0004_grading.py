"""Dynamic grading: exposure cache, offline periods, readings batch ledger, runs, webhooks.

Revision ID: 0004_grading
Revises: 0002_auth
Create Date: 2026-11-29
"""

from db.migrations.sqlfile import run_sql

revision = "0004_grading"
down_revision = "0002_auth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0004_grading.sql")


def downgrade() -> None:
    run_sql("0004_grading_down.sql")
