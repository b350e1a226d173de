"""The assessment: logged corrections of a loaded edition; 1.2.4's hydrant part from the store.

Revision ID: 0031_assessment_hydrants
Revises: 0030_readings_retention
Create Date: 2026-12-07
"""

from alembic import op
from sqlalchemy.util import await_only

from api.assessment.framework import FRAMEWORK_DIR, apply_corrections, read_framework
from db.migrations.sqlfile import run_sql

revision = "0031_assessment_hydrants"
down_revision = "0030_readings_retention"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0031_assessment_hydrants.sql")
    raw = op.get_bind().connection.driver_connection  # the asyncpg connection
    assert raw is not None
    await_only(apply_corrections(raw, read_framework(FRAMEWORK_DIR / "2019.json")))


def downgrade() -> None:
    run_sql("0031_assessment_hydrants_down.sql")
