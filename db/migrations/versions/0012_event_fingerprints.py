"""What each event record was created from: a fingerprint per (kind, code), so a re-sent
event import (or POST) with the same content is recognised as unchanged.

Revision ID: 0012_event_fingerprints
Revises: 0006_analysis
Create Date: 2026-11-29
"""

from db.migrations.sqlfile import run_sql

revision = "0012_event_fingerprints"
down_revision = "0006_analysis"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_sql("0012_event_fingerprints.sql")


def downgrade() -> None:
    run_sql("0012_event_fingerprints_down.sql")
