"""Response: road edits move the network's version; minimum needs versioned with who and why.

Revision ID: 0027_response
Revises: 0024_assessment
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0027_response"
down_revision = "0026_write_speed"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0027_response.sql")


def downgrade() -> None:
    run_sql("0027_response_down.sql")
