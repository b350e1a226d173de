"""api.monitoring.maintenance: reading partitions ahead of time, the hourly roll-up, retention.

Readings live in one partition a day (`readings_YYYYMMDD`, UTC days); their
hourly roll-up (`readings_hourly`: n, min, max, mean, last per point and hour)
in one partition a month (`readings_hourly_YYYYMM`). The app runs
`ReadingsMaintenance` in its lifespan: at start-up and then every
`readings_maintenance_interval_s`, one process across all nodes (a session
advisory lock) does one pass, in this order:

1. creates today's partition and the next `readings_partitions_ahead_days`
   (and the months they fall in), attached, so ingestion never waits for them;
2. rolls up the closed hours that committed batches touched since the last pass
   (the batch ledger's `rolled_up` flag; each hour recomputed from raw, so a
   pass run twice changes nothing);
3. retires each day that ended on or before `readings_retention_days` ago:
   `DETACH PARTITION ... CONCURRENTLY` (FINALIZE when an earlier detach was
   interrupted) under a short `lock_timeout`, retried; the detached day is
   rolled up once more, whole (readings that came late are counted), then
   dropped. Ingestion is never blocked: no lock on `readings` stronger than
   SHARE UPDATE EXCLUSIVE, which COPY's ROW EXCLUSIVE does not wait for;
4. retires the months of the roll-up past `readings_hourly_retention_days`
   (0: kept for ever) the same way.

A batch that needs a partition nobody made yet creates it on demand
(api/monitoring/readings/partitions.py); `onemap readings maintain` runs the
same pass from the command line. Why the scheduler and not pg_partman: see
docs/scaling.md, "Readings in bounds".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg

from api.monitoring import readings
from api.settings import Settings
from api.sqlfiles import ident
from api.timestamps import utcnow

log = logging.getLogger("onemap.readings")

MAINTENANCE_LOCK = 4_004_011

#: how many times a detach that met a lock timeout is tried again in one pass
DETACH_ATTEMPTS = 20

#: the children of a partitioned table, attached or left detached by an interrupted pass
_CHILDREN = """
SELECT c.relname AS name, i.inhrelid IS NOT NULL AS attached,
       coalesce(i.inhdetachpending, false) AS pending
  FROM pg_class c
  LEFT JOIN pg_inherits i ON i.inhrelid = c.oid AND i.inhparent = $1::regclass
 WHERE c.relnamespace = (SELECT relnamespace FROM pg_class WHERE oid = $1::regclass)
   AND c.relkind = 'r' AND c.relname ~ $2
   AND (i.inhrelid IS NOT NULL
        OR NOT EXISTS (SELECT 1 FROM pg_inherits o WHERE o.inhrelid = c.oid))
 ORDER BY c.relname
"""

#: claim the committed batches whose readings lie in closed hours: the hours they touched
_CLAIM = """
WITH claimed AS (
    UPDATE reading_batches SET rolled_up = true
     WHERE NOT rolled_up AND max_ts < $1
     RETURNING min_ts, max_ts, stored
)
SELECT DISTINCT h
  FROM claimed,
       generate_series(date_trunc('hour', greatest(min_ts, $2), 'UTC'), max_ts,
                       interval '1 hour') AS h
 WHERE stored > 0 AND max_ts >= $2
 ORDER BY h
"""


@dataclass(frozen=True, slots=True)
class PartitionKind:
    """A partitioned table's children: their name pattern and the span each covers."""

    parent: str
    pattern: str
    monthly: bool

    def end(self, name: str) -> datetime | None:
        """Where the child named `name` ends (exclusive, UTC), or None if not one of ours."""
        m = re.fullmatch(self.pattern, name)
        if m is None:
            return None
        if self.monthly:
            y, mo = int(m.group(1)[:4]), int(m.group(1)[4:])
            return datetime(y + mo // 12, mo % 12 + 1, 1, tzinfo=UTC)
        d = datetime.strptime(m.group(1), "%Y%m%d").replace(tzinfo=UTC)
        return d + timedelta(days=1)


RAW = PartitionKind("readings", r"readings_(\d{8})", monthly=False)
HOURLY = PartitionKind("readings_hourly", r"readings_hourly_(\d{6})", monthly=True)


@dataclass(frozen=True, slots=True)
class Child:
    """One child table: its name, where it ends, whether it is attached or detach-pending."""

    name: str
    end: datetime
    attached: bool
    pending: bool


async def expired(conn: asyncpg.Connection, kind: PartitionKind, before: datetime) -> list[Child]:
    """The children of `kind` that end on or before `before`, oldest first (detached
    leftovers of an interrupted pass included)."""
    rows = await conn.fetch(_CHILDREN, kind.parent, f"^{kind.pattern}$")
    out = []
    for r in rows:
        end = kind.end(r["name"])
        if end is not None and end <= before:
            out.append(Child(r["name"], end, r["attached"], r["pending"]))
    return out


def raw_since(now: datetime, retention_days: int) -> datetime:
    """The start of the oldest day whose raw readings are kept (older days are dropped)."""
    d = (now - timedelta(days=retention_days)).date()
    return datetime(d.year, d.month, d.day, tzinfo=UTC)


async def detach(conn: asyncpg.Connection, kind: PartitionKind, child: Child,
                 lock_timeout_ms: int) -> int:  # fmt: skip
    """Detach `child` without blocking writers of the parent; the attempts it took.

    `DETACH PARTITION ... CONCURRENTLY` takes SHARE UPDATE EXCLUSIVE on the parent,
    commits, waits for the transactions that may still see the child, then
    finishes. A lock timeout (or a crash) in between leaves the child "detach
    pending": the next attempt says FINALIZE. Must run outside a transaction.
    """
    attached, pending = child.attached, child.pending
    await conn.execute(f"SET lock_timeout = {int(lock_timeout_ms)}")
    try:
        for attempt in range(1, DETACH_ATTEMPTS + 1):
            if not attached:
                return attempt - 1
            mode = "FINALIZE" if pending else "CONCURRENTLY"
            try:
                await conn.execute(
                    f"ALTER TABLE {ident(kind.parent)} DETACH PARTITION {ident(child.name)} {mode}"
                )
                return attempt
            except asyncpg.LockNotAvailableError:
                row = await conn.fetchrow(
                    "SELECT inhdetachpending FROM pg_inherits "
                    "WHERE inhrelid = $1::regclass AND inhparent = $2::regclass",
                    child.name, kind.parent,
                )  # fmt: skip
                attached, pending = row is not None, bool(row and row["inhdetachpending"])
                await asyncio.sleep(min(0.02 * attempt, 0.2))
        raise TimeoutError(f"{child.name}: not detached after {DETACH_ATTEMPTS} lock timeouts")
    finally:
        await conn.execute("RESET lock_timeout")


async def roll_up(conn: asyncpg.Connection, now: datetime, since: datetime) -> int:
    """Roll up the closed hours (since `since`) touched by batches committed since the last
    pass; the hourly rows written. One transaction: a failure leaves the batches unclaimed."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    written = 0
    async with conn.transaction():
        hours = [r["h"] for r in await conn.fetch(_CLAIM, hour, since)]
        for lo, hi in _runs(hours):
            written += await conn.fetchval(
                "SELECT onemap_rollup_readings($1, $2)", lo, hi + timedelta(hours=1)
            )
    return written


def _runs(hours: list[datetime]) -> list[tuple[datetime, datetime]]:
    """Sorted hours as runs of consecutive hours: (first, last)."""
    runs: list[tuple[datetime, datetime]] = []
    for h in hours:
        if runs and h - runs[-1][1] == timedelta(hours=1):
            runs[-1] = (runs[-1][0], h)
        else:
            runs.append((h, h))
    return runs


async def retire_day(
    conn: asyncpg.Connection, child: Child, lock_timeout_ms: int
) -> dict[str, float]:
    """Detach one day of raw readings, roll it up whole from the detached table, drop it.
    Its timings (seconds): the detach, the roll-up, the drop; and when each phase began
    and the last ended (`time.perf_counter()`: the bench lines them up with its writers)."""
    t0 = time.perf_counter()
    await detach(conn, RAW, child, lock_timeout_ms)
    t1 = time.perf_counter()
    start = child.end - timedelta(days=1)
    async with conn.transaction():
        await conn.fetchval(
            "SELECT onemap_rollup_readings($1, $2, $3::regclass)", start, child.end, child.name
        )
    t2 = time.perf_counter()
    await conn.execute(f"DROP TABLE {ident(child.name)}")
    t3 = time.perf_counter()
    return {"detach_s": t1 - t0, "rollup_s": t2 - t1, "drop_s": t3 - t2,
            "t0": t0, "t1": t1, "t2": t2, "t3": t3}  # fmt: skip


async def maintain_readings(conn: asyncpg.Connection, settings: Settings) -> dict[str, int]:
    """One upkeep pass (see the module's docstring); what it did, counted.

    `conn` must not be inside a transaction (DETACH ... CONCURRENTLY cannot be).
    """
    now = utcnow()
    ahead = now + timedelta(days=settings.readings_partitions_ahead_days)
    created = await conn.fetchval("SELECT onemap_ensure_reading_partitions($1, $2)", now, ahead)
    await conn.fetchval("SELECT onemap_ensure_hourly_partitions($1, $2)", now, ahead)
    since = raw_since(now, settings.readings_retention_days)
    rolled = await roll_up(conn, now, since)
    timeout = settings.readings_detach_lock_timeout_ms
    dropped = 0
    for child in await expired(conn, RAW, since):
        took = await retire_day(conn, child, timeout)
        log.info("readings: %s retired (detach %.3f s, roll-up %.3f s, drop %.3f s)",
                 child.name, took["detach_s"], took["rollup_s"], took["drop_s"])  # fmt: skip
        dropped += 1
    if dropped:
        readings.forget_partitions()
    dropped_hourly = 0
    if settings.readings_hourly_retention_days:
        keep_from = now - timedelta(days=settings.readings_hourly_retention_days)
        for child in await expired(conn, HOURLY, keep_from):
            await detach(conn, HOURLY, child, timeout)
            await conn.execute(f"DROP TABLE {ident(child.name)}")
            dropped_hourly += 1
    return {"created": int(created), "rolled_up": rolled, "dropped": dropped,
            "dropped_hourly": dropped_hourly}  # fmt: skip


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
        """One upkeep pass; None when another process (of any node) holds the lock."""
        async with self.pool.acquire() as conn:
            if not await conn.fetchval("SELECT pg_try_advisory_lock($1)", MAINTENANCE_LOCK):
                return None
            try:
                out = await maintain_readings(conn, self.settings)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", MAINTENANCE_LOCK)
        if any(out.values()):
            log.info("readings upkeep: %(created)d partitions created, %(rolled_up)d hourly rows "
                     "rolled up, %(dropped)d days and %(dropped_hourly)d hourly months "
                     "dropped", out)  # fmt: skip
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
