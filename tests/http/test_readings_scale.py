"""Readings at scale: partitions made ahead and on demand, retention, whole-batch idempotency
under re-sends and concurrency, alarms from a bulk batch."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import orjson

from api.monitoring.maintenance import MAINTENANCE_LOCK
from api.settings import Settings
from tests.conftest import app_client, role_headers, running_app
from tests.support.grading_db import seed_gas_unit

#: what a pass reports when there is nothing to do
IDLE = {"created": 0, "rolled_up": 0, "dropped": 0, "dropped_hourly": 0}
NOW = datetime.now(UTC).replace(second=0, microsecond=0)
T0 = NOW - timedelta(hours=3)


async def fetch(settings: Settings, sql: str, *args: Any) -> list[asyncpg.Record]:
    """Rows from the test database."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


async def partition_days(settings: Settings) -> list[date]:
    """The days that have a readings partition."""
    rows = await fetch(
        settings,
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'readings'::regclass ORDER BY c.relname",
    )
    return [datetime.strptime(r["relname"][9:], "%Y%m%d").date() for r in rows]


def at(d: date, hour: int) -> datetime:
    """That day at that hour, UTC."""
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


def span(first: date, last: date) -> list[date]:
    """Every day from first to last."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


async def test_upkeep_drops_expired_partitions_and_makes_the_next_days(empty_db: Settings) -> None:
    """The app's upkeep (at start-up, then on a timer): retention drops, days ahead made."""
    today = datetime.now(UTC).date()
    old = span(today - timedelta(days=45), today - timedelta(days=25))
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await conn.execute(
            "SELECT onemap_ensure_reading_partitions($1, $2)", at(old[0], 12), at(old[-1], 12)
        )
        for i, d in enumerate(old):
            await conn.execute("INSERT INTO readings VALUES ($1, $2, 1.0)", i + 1, at(d, 6))
    finally:
        await conn.close()
    assert await partition_days(empty_db) == old
    settings = empty_db.model_copy(
        update={"readings_retention_days": 30, "readings_partitions_ahead_days": 3}
    )
    async with running_app(settings) as app:
        # start-up ran the upkeep once: days that ended 30 days ago or earlier are gone
        cutoff = (datetime.now(UTC) - timedelta(days=30)).date()
        kept = [d for d in old if d >= cutoff]
        assert await partition_days(empty_db) == kept + span(today, today + timedelta(days=3))
        rows = await fetch(empty_db, "SELECT point_id, ts FROM readings ORDER BY ts")
        assert [r["ts"].date() for r in rows] == kept
        upkeep = app.state.readings_maintenance
        assert await upkeep.tick() == IDLE
        # one process at a time: another holder of the lock makes this one skip
        other = await asyncpg.connect(empty_db.database_url)
        try:
            assert await other.fetchval("SELECT pg_try_advisory_lock($1)", MAINTENANCE_LOCK)
            assert await upkeep.tick() is None
        finally:
            await other.close()
        assert await upkeep.tick() == IDLE


async def test_a_batch_makes_its_partitions_on_demand(empty_db: Settings) -> None:
    """Without upkeep a batch creates the day partitions it needs, even after a drop behind
    the process's back."""
    await seed_gas_unit(empty_db.database_url)
    settings = empty_db.model_copy(update={"readings_maintenance_interval_s": 0})
    headers = await role_headers(empty_db)
    ten_days_ago = NOW - timedelta(days=10)
    async with app_client(settings, headers["integrator"]) as client:
        assert await partition_days(empty_db) == []
        r = await client.post("/monitoring/readings", json={"readings": [
            {"point": "CH4-1", "ts": ten_days_ago.isoformat(), "value": 1.0},
            {"point": "CH4-1", "ts": NOW.isoformat(), "value": 1.0}]})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == 2
        # the days between too: partitions are made as one range
        assert await partition_days(empty_db) == span(ten_days_ago.date(), NOW.date())
        conn = await asyncpg.connect(empty_db.database_url)
        try:
            await conn.execute(f"DROP TABLE readings_{ten_days_ago:%Y%m%d}")
        finally:
            await conn.close()
        late = ten_days_ago + timedelta(minutes=5)
        r = await client.post("/monitoring/readings", json={"readings": [
            {"point": "P-1", "ts": late.isoformat(), "value": 0.4}]})  # fmt: skip
        assert r.status_code == 200, r.text
        assert (r.json()["stored"], r.json()["path"]) == (1, "copy")
    rows = await fetch(empty_db, "SELECT ts FROM readings ORDER BY ts")
    assert [r["ts"] for r in rows] == [late, NOW]


def batch(rows: list[tuple[str, int, float]]) -> bytes:
    """A JSON batch from (point, minutes after T0, value)."""
    return orjson.dumps({"readings": [
        {"point": p, "ts": (T0 + timedelta(minutes=m)).isoformat(), "value": v}
        for p, m, v in rows]})  # fmt: skip


async def post(client: Any, body: bytes, **headers: str) -> dict[str, Any]:
    """POST a batch; the JSON answer (must be 200)."""
    r = await client.post("/monitoring/readings", content=body,
                          headers={"content-type": "application/json", **headers})  # fmt: skip
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_resent_and_concurrent_batches_store_each_reading_once(empty_db: Settings) -> None:
    """The same batch six times at once, overlapping batches at once, re-sends: one row per
    (point, ts), every answer 200, and a re-send answers the same each time."""
    await seed_gas_unit(empty_db.database_url)
    headers = await role_headers(empty_db)
    readings = [(p, m, 1.0 + (m % 3) / 10) for m in range(100) for p in ("CH4-1", "P-1")]
    whole = batch(readings)
    async with app_client(empty_db, headers["integrator"]) as client:
        answers = await asyncio.gather(*(post(client, whole) for _ in range(6)))
        assert sorted((a["stored"], a["duplicates"], a["duplicate_batch"]) for a in answers) == [
            (0, 200, True)] * 5 + [(200, 0, False)]  # fmt: skip
        first = next(a for a in answers if not a["duplicate_batch"])
        assert first["path"] == "copy"
        # a re-send is answered from the ledger, the same way every time
        again = [await post(client, whole) for _ in range(3)]
        assert again[0] == again[1] == again[2]
        assert (again[0]["stored"], again[0]["duplicate_batch"], again[0]["path"]) == (
            0, True, "ledger")  # fmt: skip
        # the same readings in other batches (other bytes), at once: only new ones are stored
        more = [(p, m, 2.0) for m in range(100, 150) for p in ("CH4-1", "P-1")]
        parts = [readings[:120] + more[:40], list(reversed(readings[80:] + more)), more[20:]]
        answers = await asyncio.gather(*(post(client, batch(b)) for b in parts))
        assert sum(a["stored"] for a in answers) == len(more)
        assert [a["stored"] + a["duplicates"] for a in answers] == [len(b) for b in parts]
        assert all(not a["duplicate_batch"] for a in answers)
        # a batch under an Idempotency-Key: the key names it, whatever is sent under it
        keyed = await asyncio.gather(
            post(client, batch(more[:10]), **{"Idempotency-Key": "gw-3/42"}),
            post(client, batch(more[10:30]), **{"Idempotency-Key": "gw-3/42"}),
        )
        assert sorted(a["duplicate_batch"] for a in keyed) == [False, True]
    counts = await fetch(
        empty_db,
        "SELECT count(*) AS n, count(DISTINCT (point_id, ts)) AS d FROM readings",
    )
    assert (counts[0]["n"], counts[0]["d"]) == (len(readings) + len(more),) * 2
    state = await fetch(
        empty_db,
        "SELECT p.code, s.last_reading_at FROM monitoring_point_state s "
        "JOIN monitoring_points p ON p.id = s.point_id ORDER BY p.code",
    )
    assert [(r["code"], r["last_reading_at"]) for r in state] == [
        ("CH4-1", T0 + timedelta(minutes=149)), ("P-1", T0 + timedelta(minutes=149))]  # fmt: skip


BULK_POINTS = """
INSERT INTO monitoring_points (code, name, risk_unit_id, kind, domain, direction,
    threshold_l4, threshold_l3, threshold_l2, threshold_l1, expected_interval_s, geom)
SELECT 'B-' || i, 'bulk ' || i, ru.id, 'gas_concentration', 'lifeline', 'above',
       5, 10, 20, 50, 120, ru.geom
  FROM risk_units ru, generate_series(1, 500) i WHERE ru.code = 'GAS1'
"""


def bulk_value(point: int, minute: int) -> float:
    """Normal readings, but B-7 escalates 3 -> 1 then recovers, B-100 ends at level 2,
    B-200 touches level 4 for a minute."""
    if point == 7 and 2 <= minute <= 4:
        return 12.0
    if point == 7 and 5 <= minute <= 6:
        return 60.0
    if point == 100 and minute == 9:
        return 25.0
    if point == 200 and minute == 3:
        return 6.0
    return 1.0 + (point % 7) / 10


async def test_alarms_from_a_bulk_batch(empty_db: Settings) -> None:
    """One batch of 5,000 readings over 500 points: its alarm periods exactly, on the fast
    path; the same readings again (other order) change nothing."""
    await seed_gas_unit(empty_db.database_url)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await conn.execute(BULK_POINTS)
    finally:
        await conn.close()
    headers = await role_headers(empty_db)
    readings = [(f"B-{p}", m, bulk_value(p, m)) for m in range(10) for p in range(1, 501)]
    async with app_client(empty_db, headers["integrator"]) as client:
        out = await post(client, batch(readings))
        assert (out["received"], out["stored"], out["path"]) == (5000, 5000, "copy")
        assert out["alarms"] == {"opened": 3, "escalated": 1, "deescalated": 0, "closed": 2}
        assert out["offline_periods"] == 0
        again = await post(client, batch(list(reversed(readings))))
        assert (again["stored"], again["duplicates"], again["path"]) == (0, 5000, "staging")
        assert again["alarms"] == {"opened": 0, "escalated": 0, "deescalated": 0, "closed": 0}
    rows = await fetch(
        empty_db,
        "SELECT mp.code, a.level, a.started_at, a.ended_at, a.end_reason, a.episode "
        "FROM alarms a JOIN monitoring_points mp ON mp.id = a.point_id "
        "ORDER BY mp.code, a.started_at",
    )

    def mins(m: int) -> datetime:
        return T0 + timedelta(minutes=m)

    assert [(r["code"], r["level"], r["started_at"], r["ended_at"], r["end_reason"])
            for r in rows] == [
        ("B-100", 2, mins(9), None, None),
        ("B-200", 4, mins(3), mins(4), "normal"),
        ("B-7", 3, mins(2), mins(5), "escalated"),
        ("B-7", 1, mins(5), mins(7), "normal"),
    ]  # fmt: skip
    assert rows[2]["episode"] == rows[3]["episode"]
