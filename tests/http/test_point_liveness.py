"""Liveness in blocks of 128 points (point_liveness, migration 0013): what batches leave
there equals the readings' own last times, under concurrency, across block edges and
through the migration both ways; grading reads offline points from it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from alembic import command

from api.migrate import alembic_config, upgrade_async
from api.monitoring.readings import BLOCK
from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.http.test_readings_scale import BULK_POINTS, T0, batch, fetch, post
from tests.support.grading_db import seed_gas_unit

#: points, by id, and their last readings as the readings table has them
LAST_FROM_READINGS = """
SELECT point_id, max(ts) AS last FROM readings GROUP BY point_id ORDER BY point_id
"""
LAST_FROM_STATE = """
SELECT point_id, last_reading_at AS last FROM monitoring_point_state ORDER BY point_id
"""


async def bulk_city(settings: Settings) -> list[int]:
    """The gas unit and 500 more points on it (ids over four blocks or more); their ids."""
    await seed_gas_unit(settings.database_url)
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(BULK_POINTS)
        ids: list[int] = [
            r[0] for r in await conn.fetch("SELECT id FROM monitoring_points ORDER BY id")
        ]
    finally:
        await conn.close()
    return ids


async def test_concurrent_first_batches_over_new_blocks(empty_db: Settings) -> None:
    """Eight batches at once, each over points of every block, none of which ever reported
    (so every batch makes blocks the others need too): all stored, no deadlock surfaces,
    and each point's liveness is its newest reading."""
    ids = await bulk_city(empty_db)
    assert len({i // BLOCK for i in ids}) >= 4
    headers = await role_headers(empty_db)
    parts: list[list[tuple[str, int, float]]] = [
        [(f"B-{p}", m, 1.0) for p in range(1 + k % 3, 501, 3) for m in (k, k + 8)] for k in range(8)
    ]
    async with app_client(empty_db, headers["integrator"]) as client:
        answers = await asyncio.gather(*(post(client, batch(b)) for b in parts))
    assert [a["stored"] for a in answers] == [len(b) for b in parts]
    assert await fetch(empty_db, LAST_FROM_STATE) == await fetch(empty_db, LAST_FROM_READINGS)
    blocks = await fetch(empty_db, "SELECT block FROM point_liveness ORDER BY block")
    reported = await fetch(empty_db, "SELECT DISTINCT point_id / $1 AS b FROM readings", BLOCK)
    assert [r["block"] for r in blocks] == sorted(r["b"] for r in reported)


async def test_late_readings_leave_liveness_and_alarms_alone(empty_db: Settings) -> None:
    """A batch older than what a point already reported is stored, but neither moves its
    liveness back nor opens an alarm; a point in the same batch with news moves on."""
    await bulk_city(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["integrator"]) as client:
        await post(client, batch([("B-1", 30, 1.0), ("B-2", 30, 1.0)]))
        late = await post(client, batch([("B-1", 10, 60.0), ("B-2", 31, 1.0)]))
    assert (late["stored"], late["alarms"]["opened"], late["offline_periods"]) == (2, 0, 0)
    state = {r["code"]: r["last"] for r in await fetch(
        empty_db,
        "SELECT mp.code, s.last_reading_at AS last FROM monitoring_point_state s "
        "JOIN monitoring_points mp ON mp.id = s.point_id",
    )}  # fmt: skip
    assert state == {"B-1": T0 + timedelta(minutes=30), "B-2": T0 + timedelta(minutes=31)}
    assert await fetch(empty_db, "SELECT 1 FROM alarms") == []


async def test_offline_and_never_reported_points_are_graded(empty_db: Settings) -> None:
    """score.sql and the explanation read liveness from the blocks: a point whose last
    reading is older than its interval is offline, one that never reported is offline
    and flagged so, one that reported within its interval is not."""
    await bulk_city(empty_db)
    headers = await role_headers(empty_db)
    # B-1 reported within the last minute, B-2 hours ago (interval 120 s); B-3 never.
    # (T0 is fixed when the module is imported: "now" is counted from it here.)
    now_m = int((datetime.now(UTC) - T0).total_seconds() // 60)
    async with app_client(empty_db, headers["integrator"]) as client:
        await post(client, batch([("B-1", now_m, 1.0), ("B-2", 0, 1.0)]))
        grade = (await client.get("/risk-units/GAS1/grade")).json()
    flags = {f["code"]: set(f["points"]) for f in grade["data_quality"]}
    assert {"B-2", "B-3"} <= flags["monitoring_offline"]
    assert "B-1" not in flags["monitoring_offline"]
    assert "B-3" in flags["never_reported"]
    assert not {"B-1", "B-2"} & flags["never_reported"]
    rows = await fetch(
        empty_db,
        "SELECT mp.code, onemap_last_reading(l.last_us, mp.id) AS last "
        "FROM monitoring_points mp "
        "LEFT JOIN point_liveness l ON l.block = onemap_liveness_block(mp.id) "
        "WHERE mp.code IN ('B-1', 'B-2', 'B-3') ORDER BY mp.code",
    )
    assert [(r["code"], r["last"]) for r in rows] == [
        ("B-1", T0 + timedelta(minutes=now_m)), ("B-2", T0), ("B-3", None)]  # fmt: skip


async def test_migration_moves_liveness_both_ways(empty_db: Settings) -> None:
    """0013 down rebuilds one row per point (with its last value), 0013 up packs them into
    blocks again: the same last readings before and after."""
    await bulk_city(empty_db)
    headers = await role_headers(empty_db)
    readings = [(f"B-{p}", p % 50, float(p)) for p in range(1, 501, 7)]
    async with app_client(empty_db, headers["integrator"]) as client:
        await post(client, batch(readings))
    before = await fetch(empty_db, LAST_FROM_STATE)
    cfg = alembic_config(empty_db)
    await asyncio.to_thread(command.downgrade, cfg, "0012_event_fingerprints")
    rows: list[Any] = await fetch(
        empty_db,
        "SELECT point_id, last_reading_at AS last, last_value FROM monitoring_point_state "
        "ORDER BY point_id",
    )
    assert [(r["point_id"], r["last"]) for r in rows] == [tuple(r) for r in before]
    points = await fetch(empty_db, "SELECT id, code FROM monitoring_points")
    code_of = {r["id"]: r["code"] for r in points}
    assert {code_of[r["point_id"]]: r["last_value"] for r in rows} == {
        f"B-{p}": float(p) for p in range(1, 501, 7)}  # fmt: skip
    await upgrade_async(empty_db)
    assert await fetch(empty_db, LAST_FROM_STATE) == before
