"""The safety-development assessment: the 2019 framework as data, scorecard snapshots.

Revision ID: 0024_assessment
Revises: 0021_incidents
Create Date: 2026-12-07
"""

from alembic import op
from sqlalchemy.util import await_only

from api.assessment.framework import FRAMEWORK_DIR, load_framework, read_framework
from db.migrations.sqlfile import run_sql

revision = "0024_assessment"
down_revision = "0021_incidents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0024_assessment.sql")
    raw = op.get_bind().connection.driver_connection  # the asyncpg connection
    assert raw is not None
    await_only(load_framework(raw, read_framework(FRAMEWORK_DIR / "2019.json")))


def downgrade() -> None:
    run_sql("0024_assessment_down.sql")
