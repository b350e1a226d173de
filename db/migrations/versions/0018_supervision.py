"""Supervision: users and keys belong to an organisation; scoped writes; feature history.

Revision ID: 0018_supervision
Revises: 0015_organisations
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0018_supervision"
down_revision = "0015_organisations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0018_supervision.sql")
    run_sql("0018_policies.sql")


def downgrade() -> None:
    run_sql("0018_supervision_down.sql")
