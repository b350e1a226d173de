"""scripts.bench.retention: readings in bounds: BRIN against btree on time, retiring a day.

1. BRIN vs btree on `ts`: a day partition of POINTS points x 1,440 minutes
   (RETENTION_POINTS, default 3,000: a scaled Xi'an day, written in time order
   as ingestion writes it), with its primary key (point_id, ts). Index sizes, and
   the roll-up's read (one hour of all points, aggregated per point) and a
   5-minute count with only the BRIN, only a btree on ts, and neither (the
   primary key alone).
2. Retiring a day with ingestion running: WRITERS connections COPY batches of
   BATCH readings into today's partition back to back while a report holds a
   read on `readings` for HOLD_S seconds; then the expired day (DAY_POINTS x
   1,440 readings) is retired. Ours: `retire_day` of the upkeep (DETACH ...
   CONCURRENTLY, roll-up of the detached day, DROP). Reference: the upkeep
   before 0030 (`DROP TABLE` of the day partition, ACCESS EXCLUSIVE on
   `readings`). Reported: the longest COPY transaction while the day is retired,
   against the longest before it, and how long the detach + drop took.

    python -m scripts.bench retention
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg

from api.importer.pgcopy import PG_EPOCH_US, ByteSource, FixedColumn, payload
from api.monitoring.maintenance import RAW, expired, raw_since, retire_day
from scripts.bench import Context, Row, console, scratch_database

POINTS = int(os.environ.get("RETENTION_POINTS", 3000))
DAY_POINTS = int(os.environ.get("RETENTION_DAY_POINTS", 1000))
WRITERS = 4
BATCH = 1000
HOLD_S = 1.5
MINUTE_US = 60_000_000


def minute_copy(points: int, start_us: int, minutes: int, first_point: int = 1) -> bytes:
    """Binary COPY data: every point once a minute for `minutes`, in time order."""
    import numpy as np

    ids = np.tile(np.arange(first_point, first_point + points, dtype=np.int64), minutes)
    ts = np.repeat(start_us + np.arange(minutes, dtype=np.int64) * MINUTE_US, points)
    vals = (ids % 17).astype(np.float64) + np.repeat(np.arange(minutes) % 60, points) / 100
    columns = [
        FixedColumn(ids.astype(">i8")),
        FixedColumn((ts - PG_EPOCH_US).astype(">i8")),
        FixedColumn(vals.astype(">f8")),
    ]
    return payload(columns, len(ids))


def us(t: datetime) -> int:
    """Microseconds since 1970."""
    return int(t.timestamp()) * 1_000_000


async def best_ms(conn: asyncpg.Connection, sql: str, repeat: int) -> float:
    """The fastest of `repeat` runs (after one warm-up), in ms."""
    await conn.fetch(sql)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        await conn.fetch(sql)
        times.append((time.perf_counter() - t) * 1000)
    return min(times)


async def brin_vs_btree(ctx: Context) -> list[Row]:
    """Index sizes and time-range reads on one scaled day."""
    async with scratch_database(ctx.settings, "brin") as settings:
        conn = await asyncpg.connect(settings.database_url)
        try:
            day = datetime(2026, 1, 1, tzinfo=UTC)
            await conn.execute(
                "CREATE TABLE day (point_id bigint NOT NULL, ts timestamptz NOT NULL, "
                "value double precision NOT NULL, PRIMARY KEY (point_id, ts))"
            )
            t = time.perf_counter()
            data = minute_copy(POINTS, us(day), 1440)
            await conn.copy_to_table("day", source=ByteSource(data), format="binary")
            rows = POINTS * 1440
            console.print(f"  {rows:,} readings loaded in {time.perf_counter() - t:.1f} s")
            await conn.execute("VACUUM ANALYZE day")
            await conn.execute("CREATE INDEX day_brin ON day USING brin (ts) "
                               "WITH (pages_per_range = 32)")  # fmt: skip
            await conn.execute("CREATE INDEX day_btree ON day (ts)")
            sizes = {
                r["name"]: r["bytes"]
                for r in await conn.fetch(
                    "SELECT c.relname AS name, pg_relation_size(c.oid) AS bytes FROM pg_class c "
                    "WHERE c.relname IN ('day', 'day_pkey', 'day_brin', 'day_btree')"
                )
            }
            hour = day + timedelta(hours=12)
            h0, h1 = hour.isoformat(), (hour + timedelta(hours=1)).isoformat()
            m5 = (hour + timedelta(minutes=5)).isoformat()
            rollup = (
                "SELECT point_id, count(*), min(value), max(value), avg(value) FROM day "
                f"WHERE ts >= '{h0}' AND ts < '{h1}' GROUP BY point_id"
            )
            five = f"SELECT count(*) FROM day WHERE ts >= '{h0}' AND ts < '{m5}'"
            timings: dict[str, dict[str, float]] = {}
            for only in ("brin", "btree", "none"):
                tr = conn.transaction()
                await tr.start()
                # the other index hidden from the planner inside this transaction, rolled back
                for other in ("brin", "btree"):
                    if other != only:
                        await conn.execute(f"DROP INDEX day_{other}")
                timings[only] = {
                    "hour": await best_ms(conn, rollup, ctx.repeat),
                    "five": await best_ms(conn, five, ctx.repeat),
                }
                await tr.rollback()
        finally:
            await conn.close()
    mb = 1024 * 1024
    console.print(f"  sizes: {sizes}; timings (ms): {timings}")
    b, bt, n = timings["brin"], timings["btree"], timings["none"]
    return [
        Row(
            what=f"index on readings.ts, a day of {POINTS:,} points x 1/min ({rows:,} rows, "
            f"table {sizes['day'] / mb:.0f} MB, primary key {sizes['day_pkey'] / mb:.0f} MB)",
            ours=f"BRIN {sizes['day_brin'] / 1024:.0f} kB",
            reference=f"btree {sizes['day_btree'] / mb:.1f} MB",
            ratio=f"{sizes['day_btree'] / max(sizes['day_brin'], 1):.0f}x smaller",
            goal="smaller",
        ),
        Row(
            what="roll-up read: one hour of all points, aggregated per point",
            ours=f"BRIN {b['hour']:.0f} ms",
            reference=f"btree(ts) {bt['hour']:.0f} ms; no ts index {n['hour']:.0f} ms",
            ratio=f"{bt['hour'] / b['hour']:.2f} (vs none {n['hour'] / b['hour']:.1f})",
            goal=">= 1",
        ),
        Row(
            what="5 minutes of all points (count)",
            ours=f"BRIN {b['five']:.1f} ms",
            reference=f"btree(ts) {bt['five']:.1f} ms; no ts index {n['five']:.0f} ms",
            ratio=f"{bt['five'] / b['five']:.2f} (vs none {n['five'] / b['five']:.1f})",
            goal="",
        ),
    ]


async def _writer(url: str, today_us: int, stop: asyncio.Event, lat: list[tuple[float, float]],
                  first_point: int) -> None:  # fmt: skip
    """COPY batches of BATCH readings into today's partition back to back; (start, seconds)."""
    conn = await asyncpg.connect(url)
    minute = 0
    try:
        while not stop.is_set():
            data = minute_copy(BATCH, today_us + minute * MINUTE_US, 1, first_point)
            minute += 1
            t = time.perf_counter()
            async with conn.transaction():
                await conn.copy_to_table("readings", source=ByteSource(data), format="binary",
                                         columns=["point_id", "ts", "value"])  # fmt: skip
            lat.append((t, time.perf_counter() - t))
    finally:
        await conn.close()


async def _report(url: str, held: asyncio.Event) -> None:
    """A reader holding `readings` for HOLD_S seconds (a long report, a slow replica query)."""
    conn = await asyncpg.connect(url)
    try:
        async with conn.transaction():
            await conn.fetchval("SELECT count(*) FROM (SELECT 1 FROM readings LIMIT 1) x")
            held.set()
            await asyncio.sleep(HOLD_S)
    finally:
        await conn.close()


async def retire_once(ctx: Context, side: str) -> dict[str, float]:
    """Fill an expired day, run writers and a long reader, retire the day: the figures."""
    async with scratch_database(ctx.settings, f"retire_{side}") as settings:
        url = settings.database_url
        settings = settings.model_copy(update={"readings_retention_days": 30})
        now = datetime.now(UTC)
        old = (now - timedelta(days=40)).replace(hour=0, minute=0, second=0, microsecond=0)
        conn = await asyncpg.connect(url)
        await conn.execute("SELECT onemap_ensure_reading_partitions($1, $2)", old, old)
        ahead = now + timedelta(days=settings.readings_partitions_ahead_days)
        await conn.execute("SELECT onemap_ensure_reading_partitions($1, $2)", now, ahead)
        day = ByteSource(minute_copy(DAY_POINTS, us(old), 1440))
        await conn.copy_to_table("readings", source=day, format="binary",
                                 columns=["point_id", "ts", "value"])  # fmt: skip
        await conn.execute("VACUUM ANALYZE readings")
        today_us = us(now.replace(hour=0, minute=0, second=0, microsecond=0))
        stop, held = asyncio.Event(), asyncio.Event()
        lat: list[tuple[float, float]] = []
        writers = [asyncio.create_task(_writer(url, today_us, stop, lat, 1 + i * BATCH))
                   for i in range(WRITERS)]  # fmt: skip
        await asyncio.sleep(2.0)
        reader = asyncio.create_task(_report(url, held))
        await held.wait()
        took = dict.fromkeys(("detach_s", "rollup_s", "drop_s", "t0", "t1", "t2", "t3"), 0.0)
        t0 = time.perf_counter()
        for child in await expired(conn, RAW, raw_since(now, 30)):
            if side == "ours":
                took = await retire_day(conn, child, settings.readings_detach_lock_timeout_ms)
            else:
                await conn.execute(f'DROP TABLE "{child.name}"')
        t1 = time.perf_counter()
        await reader
        await asyncio.sleep(1.0)
        stop.set()
        await asyncio.gather(*writers)
        left = await conn.fetchval("SELECT to_regclass($1) IS NULL", f"readings_{old:%Y%m%d}")
        await conn.close()
        assert left, "the expired day is still there"

    def longest(lo: float, hi: float) -> float:
        """The longest COPY transaction that overlapped [lo, hi], ms."""
        return max((d for s, d in lat if s < hi and s + d > lo), default=0.0) * 1000

    before = [d for s, d in lat if s + d < t0]
    out = {
        "detach_s": took["detach_s"],
        "rollup_s": took["rollup_s"],
        "drop_s": took["drop_s"],
        "retire_s": t1 - t0,
        "max_before_ms": max(before) * 1000,
        "p50_before_ms": statistics.median(before) * 1000,
        "max_during_ms": longest(t0, t1),
    }
    if side == "ours":
        # the phases that take locks (detach, drop) apart from the roll-up (CPU only)
        out["max_locking_ms"] = max(longest(took["t0"], took["t1"]),
                                    longest(took["t2"], took["t3"]))  # fmt: skip
        out["max_rollup_ms"] = longest(took["t1"], took["t2"])
    return out


async def retiring(ctx: Context) -> list[Row]:
    """Retiring a day with ingestion running, ours against DROP TABLE."""
    out = {}
    for side in ("ours", "reference"):
        out[side] = await retire_once(ctx, side)
        console.print(f"  {side}: {out[side]}")
    o, r = out["ours"], out["reference"]
    return [
        Row(
            what=f"retire a day ({DAY_POINTS:,} points x 1/min) with {WRITERS} writers COPYing "
            f"batches of {BATCH:,} and a {HOLD_S} s report open: longest COPY while the day "
            "is detached and dropped",
            ours=f"DETACH CONCURRENTLY + DROP: {o['max_locking_ms']:.0f} ms "
            f"(before: max {o['max_before_ms']:.0f}, p50 {o['p50_before_ms']:.0f})",
            reference=f"DROP TABLE: {r['max_during_ms']:.0f} ms "
            f"(before: max {r['max_before_ms']:.0f}, p50 {r['p50_before_ms']:.0f})",
            ratio=f"{r['max_during_ms'] / max(o['max_locking_ms'], 1e-3):.1f}",
            goal="no COPY waits for the drop",
        ),
        Row(
            what="retire a day: detach (waits out the open report, blocking no one), roll-up "
            "of the detached day (longest COPY meanwhile), drop",
            ours=f"detach {o['detach_s']:.2f} s, roll-up {o['rollup_s']:.1f} s "
            f"({o['max_rollup_ms']:.0f} ms), drop {o['drop_s'] * 1000:.0f} ms",
            reference=f"DROP TABLE {r['retire_s']:.2f} s (queued behind the report)",
            ratio="",
            goal="drop < 1 s",
        ),
    ]


async def run(ctx: Context) -> list[Row]:
    """Both parts."""
    return await brin_vs_btree(ctx) + await retiring(ctx)
