"""Readings in bounds: the hourly roll-up (equal to SQL over raw, idempotent, late batches),
days retired by DETACH ... CONCURRENTLY without blocking ingestion (an interrupted detach
finalized on the next pass), and GET /monitoring/points/{code}/readings."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from fastapi import FastAPI

from api.monitoring.maintenance import ReadingsMaintenance
from api.settings import Settings
from tests.conftest import role_headers, running_app
from tests.support.grading_db import seed_gas_unit

#: what SQL over raw says each (point, hour) is: the check on the roll-up
RAW_HOURS = """
SELECT mp.code, date_trunc('hour', r.ts, 'UTC') AS hour, count(*)::int AS n,
       min(r.value) AS min, max(r.value) AS max, avg(r.value) AS mean,
       (array_agg(r.value ORDER BY r.ts DESC))[1] AS last
  FROM readings r JOIN monitoring_points mp ON mp.id = r.point_id
 WHERE r.ts >= $1 AND r.ts < $2
 GROUP BY 1, 2 ORDER BY 1, 2
"""
ROLLED = """
SELECT mp.code, h.hour, h.n, h.min, h.max, h.mean, h.last
  FROM readings_hourly h JOIN monitoring_points mp ON mp.id = h.point_id
 WHERE h.hour >= $1 AND h.hour < $2
 ORDER BY 1, 2
"""


def value(point: str, minute: int) -> float:
    """A reading that differs by point and minute (not monotonic: min/max/last all differ)."""
    base = 1.0 if point == "CH4-1" else 0.3
    return round(base + ((minute * 7) % 11) / 10, 3)


def body(rows: list[tuple[str, datetime, float]]) -> bytes:
    """A JSON batch."""
    return orjson.dumps(
        {"readings": [{"point": p, "ts": t.isoformat(), "value": v} for p, t, v in rows]}
    )


def minutes(start: datetime, n: int, point: str = "CH4-1") -> list[tuple[str, datetime, float]]:
    """A reading a minute for n minutes from start."""
    return [(point, start + timedelta(minutes=m), value(point, m)) for m in range(n)]


def same(got: list[asyncpg.Record] | list[dict[str, Any]], want: list[asyncpg.Record]) -> None:
    """The same rows: keys equal, n/min/max/last exact, mean to the last bits."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        for k in ("n", "min", "max", "last"):
            assert g[k] == w[k], (k, dict(g), dict(w))
        assert g["mean"] == pytest.approx(w["mean"], rel=1e-12)


@asynccontextmanager
async def served(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The app (lifespan running) and a client with an integrator's key (ingests, reads)."""
    headers = await role_headers(settings)
    async with running_app(settings) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers["integrator"]
        ) as client:
            yield app, client


async def clear_of_the_hour() -> datetime:
    """Now, to the minute, at least 30 s before the next hour (waits past a boundary), so
    which hours are closed does not change while a test runs."""
    now = datetime.now(UTC)
    if now.minute == 59 and now.second >= 30:
        await asyncio.sleep(61 - now.second)
        now = datetime.now(UTC)
    return now.replace(second=0, microsecond=0)


async def point_ids(settings: Settings) -> dict[str, int]:
    """The seeded points' ids by code."""
    rows = await fetch(settings, "SELECT code, id FROM monitoring_points")
    return {r["code"]: r["id"] for r in rows}


async def post(client: httpx.AsyncClient, rows: list[tuple[str, datetime, float]]) -> None:
    """POST a batch (must be stored)."""
    r = await client.post("/monitoring/readings", content=body(rows),
                          headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == len(rows)


async def fetch(settings: Settings, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows from the test database."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


def at(d: date, hour: int, minute: int = 0) -> datetime:
    """That day at that time, UTC."""
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=UTC)


async def old_days(settings: Settings, days: list[date]) -> None:
    """Readings on days past the retention (the API would refuse them): two points, hours
    6 and 7 of each day, a reading every 10 minutes."""
    ids = await point_ids(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute("SELECT onemap_ensure_reading_partitions($1, $2)",
                           at(days[0], 12), at(days[-1], 12))  # fmt: skip
        rows = [
            (ids[code], at(d, 6) + timedelta(minutes=10 * m), value(code, m + i))
            for i, d in enumerate(days)
            for code in ("CH4-1", "P-1")
            for m in range(12)
        ]
        await conn.copy_records_to_table("readings", records=rows,
                                         columns=["point_id", "ts", "value"])  # fmt: skip
    finally:
        await conn.close()


async def test_rollup_is_sql_over_raw_idempotent_and_takes_late_batches(
    empty_db: Settings,
) -> None:
    """Closed hours, rolled up once their batches commit, equal SQL over raw; a batch that
    reaches into the open hour waits for it to close; a second pass writes nothing; a late
    batch rolls up its hour again, and only it."""
    await seed_gas_unit(empty_db.database_url)
    settings = empty_db.model_copy(update={"readings_maintenance_interval_s": 0})
    now = await clear_of_the_hour()
    hour = now.replace(minute=0)
    t0 = hour - timedelta(hours=3)
    async with served(settings) as (app, client):
        upkeep = ReadingsMaintenance(app.state.pool, settings)
        # three closed hours, both points; then CH4-1 from half an hour before `hour` to now
        await post(client, minutes(t0, 150) + minutes(t0, 150, "P-1"))
        await post(client, minutes(hour - timedelta(minutes=30), 31 + now.minute))
        out = await upkeep.tick()
        assert out is not None and out["rolled_up"] == 6
        rolled = await fetch(empty_db, ROLLED, t0, hour + timedelta(hours=1))
        assert [(r["code"], r["hour"]) for r in rolled] == [
            (p, t0 + timedelta(hours=h)) for p in ("CH4-1", "P-1") for h in range(3)
        ]  # the open hour is not rolled up yet
        # the closed hours hold the second batch's readings too (recomputed from raw)
        same(rolled, await fetch(empty_db, RAW_HOURS, t0, hour))
        assert rolled[2]["n"] == 60
        again = await upkeep.tick()
        assert again is not None and again["rolled_up"] == 0
        # a late reading in the first hour: that hour (and only it) is rolled up again
        await post(client, [("CH4-1", t0 + timedelta(minutes=30, seconds=30), 9.5)])
        late = await upkeep.tick()
        assert late is not None and late["rolled_up"] == 1
        rolled = await fetch(empty_db, ROLLED, t0, hour)
        same(rolled, await fetch(empty_db, RAW_HOURS, t0, hour))
        assert (rolled[0]["n"], rolled[0]["max"]) == (61, 9.5)


async def test_an_hour_recomputed_unchanged_is_not_rewritten(empty_db: Settings) -> None:
    """avg() over floats depends on the order it meets the readings in, which depends on
    the plan and the rows' places: hours rolled up in a range that crosses midnight, then
    one of them alone, gave means a unit in the last place apart, and the second pass
    rewrote a row that was right (migration 0038 compares means with a tolerance). Here
    the same readings are met in another order by writing them back in reverse."""
    await seed_gas_unit(empty_db.database_url)
    ids = await point_ids(empty_db)
    t0 = datetime(2026, 12, 7, 22, tzinfo=UTC)
    rows = [(ids[code], t0 + timedelta(minutes=m), value(code, m))
            for code in ("CH4-1", "P-1") for m in range(150)]  # fmt: skip
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await conn.execute("SELECT onemap_ensure_reading_partitions($1, $2)",
                           t0, t0 + timedelta(days=1))  # fmt: skip
        await conn.copy_records_to_table("readings", records=rows,
                                         columns=["point_id", "ts", "value"])  # fmt: skip
        rollup = "SELECT onemap_rollup_readings($1, $2)"
        assert await conn.fetchval(rollup, t0, t0 + timedelta(hours=3)) == 6
        await conn.execute(
            "WITH gone AS (DELETE FROM readings RETURNING point_id, ts, value) "
            "INSERT INTO readings (point_id, ts, value) SELECT * FROM gone ORDER BY ts DESC"
        )
        for hours in (3, 1):
            assert await conn.fetchval(rollup, t0, t0 + timedelta(hours=hours)) == 0
        # a changed reading still rewrites its hour, and only its point's row
        await conn.execute("UPDATE readings SET value = value + 0.001 "
                           "WHERE point_id = $1 AND ts = $2", ids["P-1"], t0)  # fmt: skip
        assert await conn.fetchval(rollup, t0, t0 + timedelta(hours=3)) == 1
    finally:
        await conn.close()


async def test_a_day_is_retired_while_ingestion_runs(empty_db: Settings) -> None:
    """Retiring days past the retention: a COPY runs meanwhile without waiting (a 200 ms
    lock_timeout would cancel it), the days' raw rows are gone, their hours are kept in the
    roll-up exactly as SQL over raw said, and the partitions ahead are made."""
    await seed_gas_unit(empty_db.database_url)
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=40), today - timedelta(days=39)]
    await old_days(empty_db, days)
    lo, hi = at(days[0], 0), at(days[-1], 0) + timedelta(days=1)
    before = await fetch(empty_db, RAW_HOURS, lo, hi)
    assert len(before) == 8  # 2 points x 2 hours x 2 days
    settings = empty_db.model_copy(update={"readings_maintenance_interval_s": 0})
    ids = await point_ids(empty_db)
    writer = await asyncpg.connect(empty_db.database_url)
    other = await asyncpg.connect(empty_db.database_url)
    try:
        stamp = datetime.now(UTC) - timedelta(seconds=5)
        await writer.execute("SELECT onemap_ensure_reading_partitions($1, $2)", stamp,
                             stamp + timedelta(seconds=2))  # fmt: skip
        async with running_app(settings) as app:
            # an ingestion transaction is open across the retirement (it holds ROW EXCLUSIVE
            # on readings, as COPY does, until it commits)
            tx = writer.transaction()
            await tx.start()
            await writer.copy_records_to_table(
                "readings", records=[(ids["CH4-1"], stamp, 1.0)],
                columns=["point_id", "ts", "value"],
            )  # fmt: skip
            upkeep = ReadingsMaintenance(app.state.pool, settings)
            task = asyncio.create_task(upkeep.tick())
            await asyncio.sleep(0.5)  # the detach now waits for the open transaction
            assert not task.done()
            # ...yet another batch's COPY goes through at once
            await other.execute("SET lock_timeout = 200")
            async with other.transaction():
                await other.copy_records_to_table(
                    "readings", records=[(ids["P-1"], stamp + timedelta(seconds=2), 2.0)],
                    columns=["point_id", "ts", "value"],
                )  # fmt: skip
            await tx.commit()
            out = await asyncio.wait_for(task, 30)
        assert out is not None and out["dropped"] == 2
    finally:
        await writer.close()
        await other.close()
    names = await fetch(
        empty_db, "SELECT relname FROM pg_class WHERE relname = ANY($1::text[])",
        [f"readings_{d:%Y%m%d}" for d in days],
    )  # fmt: skip
    assert names == []
    assert await fetch(empty_db, "SELECT 1 FROM readings WHERE ts < $1", hi) == []
    same(await fetch(empty_db, ROLLED, lo, hi), before)
    recent = await fetch(empty_db, "SELECT point_id, value FROM readings ORDER BY ts")
    assert [(r["point_id"], r["value"]) for r in recent] == [(ids["CH4-1"], 1.0), (ids["P-1"], 2.0)]


async def test_an_interrupted_detach_is_finalized_next_pass(empty_db: Settings) -> None:
    """A detach that keeps meeting its lock timeout leaves the day "detach pending"; the
    pass fails, ingestion is untouched, and the next pass finishes it (FINALIZE)."""
    await seed_gas_unit(empty_db.database_url)
    day = datetime.now(UTC).date() - timedelta(days=35)
    await old_days(empty_db, [day])
    before = await fetch(empty_db, RAW_HOURS, at(day, 0), at(day, 0) + timedelta(days=1))
    settings = empty_db.model_copy(
        update={"readings_maintenance_interval_s": 0, "readings_detach_lock_timeout_ms": 20}
    )
    holder = await asyncpg.connect(empty_db.database_url)
    try:
        async with running_app(settings) as app:
            upkeep = ReadingsMaintenance(app.state.pool, settings)
            tx = holder.transaction()
            await tx.start()
            await holder.fetchval("SELECT count(*) FROM readings")  # holds the parent
            with pytest.raises(TimeoutError, match="not detached"):
                await upkeep.tick()
            pending = await fetch(
                empty_db,
                "SELECT inhdetachpending FROM pg_inherits WHERE inhrelid = $1::regclass",
                f"readings_{day:%Y%m%d}",
            )
            assert [r["inhdetachpending"] for r in pending] == [True]
            await tx.commit()
            out = await upkeep.tick()
            assert out is not None and out["dropped"] == 1
    finally:
        await holder.close()
    gone = await fetch(empty_db, "SELECT to_regclass($1) AS t", f"readings_{day:%Y%m%d}")
    assert [r["t"] for r in gone] == [None]
    same(await fetch(empty_db, ROLLED, at(day, 0), at(day, 0) + timedelta(days=1)), before)


async def test_point_readings_raw_hourly_auto_and_bounds(empty_db: Settings) -> None:
    """GET /monitoring/points/{code}/readings: raw rows as ingested, hours equal to SQL over
    raw (from the roll-up past the retention), auto's choice, pages, 400s and 404."""
    await seed_gas_unit(empty_db.database_url)
    day = datetime.now(UTC).date() - timedelta(days=40)
    await old_days(empty_db, [day])
    old = await fetch(empty_db, RAW_HOURS, at(day, 0), at(day, 0) + timedelta(days=1))
    settings = empty_db.model_copy(update={"readings_history_max_rows": 100})
    now = await clear_of_the_hour()
    hour = now.replace(minute=0)
    t0 = hour - timedelta(hours=3)
    async with served(settings) as (_app, client):  # start-up retires the old day
        rows = minutes(t0, 150)
        await post(client, rows)
        url = "/monitoring/points/CH4-1/readings"
        frm, to = t0.isoformat(), (t0 + timedelta(minutes=150)).isoformat()
        # raw: exactly what was ingested, paged by `next`
        r = await client.get(url, params={"from": frm, "to": to, "resolution": "raw"})
        assert r.status_code == 200, r.text
        page = r.json()
        assert (page["point"], page["resolution"], page["count"]) == ("CH4-1", "raw", 100)
        assert page["next"] == (t0 + timedelta(minutes=100)).isoformat()
        r2 = await client.get(url, params={"from": page["next"], "to": to, "resolution": "raw"})
        got = page["readings"] + r2.json()["readings"]
        assert r2.json()["next"] is None
        assert [(g["ts"], g["value"]) for g in got] == [(t.isoformat(), v) for _, t, v in rows]
        # auto on a short recent range: raw
        r = await client.get(url, params={"from": frm, "to": to})
        assert r.json()["resolution"] == "raw"
        # a year: hourly, the old day from the roll-up, recent hours aggregated from raw
        year = {"from": (now - timedelta(days=365)).isoformat(), "to": now.isoformat()}
        r = await client.get(url, params=year)
        assert r.status_code == 200, r.text
        hours = r.json()
        assert hours["resolution"] == "hour"
        want = [w for w in old if w["code"] == "CH4-1"]
        want += [w for w in await fetch(empty_db, RAW_HOURS, t0, hour + timedelta(hours=1))
                 if w["code"] == "CH4-1"]  # fmt: skip
        assert [h["hour"] for h in hours["readings"]] == [w["hour"].isoformat() for w in want]
        same(hours["readings"], want)
        assert await fetch(empty_db, "SELECT 1 FROM readings WHERE ts < $1",
                           at(day, 0) + timedelta(days=1)) == []  # fmt: skip
        # bounds: each a 400 problem a person can act on
        bad: list[tuple[dict[str, str | int], str]] = [
            ({"from": to, "to": frm}, "must be before"),
            ({"from": year["from"], "to": year["to"], "resolution": "raw"}, "ask resolution=hour"),
            ({"from": (now - timedelta(days=9)).isoformat(), "resolution": "raw"}, "7 days"),
            ({"from": (now - timedelta(days=500)).isoformat()}, "400 days"),
            ({"from": "yesterday"}, "RFC 3339"),
            ({"to": "0001-01-01T00:30:00Z"}, "between 1970 and 9000"),
            ({"from": frm, "to": to, "limit": 101}, "readings_history_max_rows"),
            ({"resolution": "minute"}, "resolution"),
        ]
        for params, words in bad:
            r = await client.get(url, params=params)
            assert r.status_code == 400, (params, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
            assert words in r.json()["detail"], (params, r.json())
        r = await client.get("/monitoring/points/NOPE/readings")
        assert r.status_code == 404


async def test_rollup_months_past_their_retention_are_retired(empty_db: Settings) -> None:
    """Months of readings_hourly that ended ONEMAP_READINGS_HOURLY_RETENTION_DAYS ago go (the
    same detach and drop); younger months stay; 0 keeps every month."""
    now = datetime.now(UTC)
    old, young = now - timedelta(days=800), now - timedelta(days=700)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        for t in (old, young):
            await conn.execute("SELECT onemap_ensure_hourly_partitions($1, $1)", t)
            await conn.execute(
                "INSERT INTO readings_hourly VALUES (1, date_trunc('hour', $1::timestamptz, "
                "'UTC'), 1, 1, 1, 1, 1)",
                t,
            )
    finally:
        await conn.close()
    names = [f"readings_hourly_{t:%Y%m}" for t in (old, young)]
    for keep, gone in ((0, 0), (730, 1)):
        settings = empty_db.model_copy(
            update={"readings_maintenance_interval_s": 0, "readings_hourly_retention_days": keep}
        )
        async with running_app(settings) as app:
            out = await ReadingsMaintenance(app.state.pool, settings).tick()
        assert out is not None and out["dropped_hourly"] == gone
    left = await fetch(empty_db, "SELECT to_regclass($1) AS a, to_regclass($2) AS b", *names)
    assert (left[0]["a"], str(left[0]["b"])) == (None, names[1])
    rows = await fetch(empty_db, "SELECT hour FROM readings_hourly")
    assert [r["hour"] for r in rows] == [young.replace(minute=0, second=0, microsecond=0)]
