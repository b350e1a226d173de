"""Users, API keys and the audit log.

Revision ID: 0002_auth
Revises: 0001_store
Create Date: 2026-11-29
"""

from db.migrations.sqlfile import run_sql

revision = "0002_auth"
down_revision = "0001_store"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0002_auth.sql")


def downgrade() -> None:
    run_sql("0002_auth_down.sql")
