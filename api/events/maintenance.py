"""api.events.maintenance: reading partitions ahead of time, and retention."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from api.events import readings
from api.grading.service import utcnow


async def maintain_readings(
    conn: asyncpg.Connection, retention_days: int, ahead_days: int = 2
) -> dict[str, int]:
    """Create today's and the next days' partitions; drop those past the retention."""
    now = utcnow()
    created = await conn.fetchval(
        "SELECT onemap_ensure_reading_partitions($1, $2)", now, now + timedelta(days=ahead_days)
    )
    dropped = await conn.fetchval(
        "SELECT onemap_drop_reading_partitions($1)", (now - timedelta(days=retention_days)).date()
    )
    if dropped:
        readings.forget_partitions()
    return {"created": int(created), "dropped": int(dropped)}
