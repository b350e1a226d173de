"""api.monitoring.maintenance: reading partitions ahead of time, and retention.

Readings live in one partition a day (`readings_YYYYMMDD`, UTC days). The app
runs `ReadingsMaintenance` in its lifespan: at start-up and then every
`readings_maintenance_interval_s`, one process across all workers (a session
advisory lock) creates today's partition and the next
`readings_partitions_ahead_days`, and drops the partitions that end on or before
the day `readings_retention_days` ago. A batch that needs a partition nobody
made yet creates it on demand (api/monitoring/readings/); `onemap readings
maintain` does the same upkeep from the command line.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

import asyncpg

from api.monitoring import readings
from api.settings import Settings
from api.timestamps import utcnow

log = logging.getLogger("onemap.readings")

MAINTENANCE_LOCK = 4_004_011


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


class ReadingsMaintenance:
    """The app's partition upkeep: once at start-up, then on a timer; one process at a time."""

    def __init__(self, pool: asyncpg.Pool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the upkeep once (so today's partitions exist), then start the timer."""
        if self.settings.readings_maintenance_interval_s <= 0:
            return
        await self._safe_tick()
        self._task = asyncio.create_task(self._loop(), name="readings-maintenance")

    async def close(self) -> None:
        """Stop the timer."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def tick(self) -> dict[str, int] | None:
        """One upkeep pass; None when another process holds the lock."""
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", MAINTENANCE_LOCK):
                return None
            try:
                s = self.settings
                out = await maintain_readings(
                    conn, s.readings_retention_days, s.readings_partitions_ahead_days
                )
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MAINTENANCE_LOCK)
        if out["created"] or out["dropped"]:
            log.info("reading partitions: %(created)d created, %(dropped)d dropped", out)
        return out

    async def _safe_tick(self) -> None:
        try:
            await self.tick()
        except (asyncpg.UndefinedFunctionError, asyncpg.UndefinedTableError):
            log.warning("reading partitions: not migrated yet (`onemap db migrate`)")
        except Exception:  # noqa: BLE001 - the next tick tries again
            log.exception("reading partition upkeep failed")

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.settings.readings_maintenance_interval_s)
            await self._safe_tick()
