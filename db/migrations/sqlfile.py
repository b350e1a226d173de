"""db.migrations.sqlfile: run a migration's .sql file as one multi-statement script."""

from __future__ import annotations

from pathlib import Path

from alembic import op
from sqlalchemy.util import await_only

SQL_DIR = Path(__file__).resolve().parent / "sql"


def run_sql(filename: str) -> None:
    """Execute db/migrations/sql/<filename> on the migration's connection (its transaction)."""
    sql = (SQL_DIR / filename).read_text(encoding="utf-8")
    raw = op.get_bind().connection.driver_connection  # the asyncpg connection
    assert raw is not None
    await_only(raw.execute(sql))
