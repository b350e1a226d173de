"""api.monitoring.readings.partitions: the day partitions of `readings` a batch needs, on demand."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import numpy as np
from numpy.typing import NDArray

from api.monitoring.readings.check import EPOCH

_known_days: set[int] = set()


async def ensure_partitions(
    conn: asyncpg.Connection, ts_us: NDArray[np.int64], force: bool = False
) -> None:
    """Create the day partitions the batch needs (remembered per process unless forced)."""
    days = set(np.unique(ts_us // 86_400_000_000).tolist())
    missing = days if force else days - _known_days
    if not missing:
        return
    lo, hi = min(missing), max(missing)
    for attempt in (1, 2):
        try:
            # a savepoint: a batch in another session may create the same day meanwhile
            async with conn.transaction():
                await conn.execute(
                    "SELECT onemap_ensure_reading_partitions($1, $2)",
                    EPOCH + timedelta(days=lo), EPOCH + timedelta(days=hi),
                )  # fmt: skip
            break
        except (asyncpg.DuplicateTableError, asyncpg.UniqueViolationError):
            if attempt == 2:  # it committed: the second look finds it
                raise
    _known_days.update(range(lo, hi + 1))


def forget_partitions() -> None:
    """Forget which partitions exist (after partitions were dropped)."""
    _known_days.clear()
