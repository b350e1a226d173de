"""The assessment's evidence: files and links an organisation submits for an item, reviewed.

Revision ID: 0028_assessment_evidence
Revises: 0024_assessment
Create Date: 2026-12-07
"""

from db.migrations.sqlfile import run_sql

revision = "0028_assessment_evidence"
down_revision = "0027_response"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0028_assessment_evidence.sql")


def downgrade() -> None:
    run_sql("0028_assessment_evidence_down.sql")
