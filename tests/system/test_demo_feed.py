"""The live demo: first readings at `demo up`; the simulated SCADA feed against a real server."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import httpx
import pytest

from api.auth.users import ensure_demo_users
from api.settings import Settings
from geodata.feed import run_feed
from geodata.first_readings import send_first_readings
from tests.conftest import app_client, role_headers
from tests.support.liveserver import live_server

POINTS = 22_067 + 1_608  # the generated kinds and the hydrants placed on the roads
#: the hydrants the demo's first readings leave without pressure (geodata.hydrants.faulty)
FAULTY = ["FH000007", "FH000607", "FH001207"]
OFFLINE_NOW = """
SELECT count(*) FROM monitoring_points mp
  LEFT JOIN monitoring_point_state s ON s.point_id = mp.id
 WHERE s.point_id IS NULL
    OR s.last_reading_at + mp.expected_interval_s * interval '1 second' <= now()
"""


async def _val(settings: Settings, sql: str, *args: Any) -> Any:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def _grade(settings: Settings, unit: str, headers: dict[str, str]) -> dict[str, Any]:
    async with app_client(settings, headers) as client:
        return dict((await client.get(f"/risk-units/{unit}/grade")).json())


async def test_first_readings_leave_no_point_offline(demo_db: Settings) -> None:
    """One reading per point: none offline, no alarm but on the few hydrants the demo starts
    without pressure, the flags gone; a rerun sends none."""
    assert await _val(demo_db, OFFLINE_NOW) == POINTS
    unit = await _val(
        demo_db,
        "SELECT u.code FROM risk_units u JOIN monitoring_points m ON m.risk_unit_id = u.id "
        "GROUP BY u.code ORDER BY count(*) DESC, u.code LIMIT 1",
    )
    viewer = (await role_headers(demo_db))["viewer"]
    before = await _grade(demo_db, unit, viewer)
    assert "monitoring_offline" in json.dumps(before["data_quality"])
    first = await send_first_readings(demo_db)
    assert (first.points, first.sent) == (POINTS, POINTS)
    linked = await _val(demo_db, "SELECT count(DISTINCT risk_unit_id) FROM monitoring_points")
    assert first.units_regraded == linked
    assert await _val(demo_db, OFFLINE_NOW) == 0
    assert await _val(demo_db, "SELECT count(*) FROM readings") == POINTS
    faulty = await _val(
        demo_db,
        "SELECT array_agg(p.code ORDER BY p.code) FROM alarms a "
        "JOIN monitoring_points p ON p.id = a.point_id WHERE a.ended_at IS NULL AND a.level = 3",
    )
    assert faulty == FAULTY and await _val(demo_db, "SELECT count(*) FROM alarms") == 3
    after = await _grade(demo_db, unit, viewer)
    assert "monitoring_offline" not in json.dumps(after["data_quality"])
    assert not any("offline" in f["code"] for f in after["factors"])
    again = await send_first_readings(demo_db)
    assert (again.sent, again.units_regraded) == (0, 0)
    assert await _val(demo_db, "SELECT count(*) FROM readings") == POINTS


@pytest.mark.slow
async def test_feed_against_a_live_server(demo_db: Settings) -> None:
    """A few seconds of feed: every point reported, none offline, excursions open, escalate
    and close alarms, and a unit with a level-1 alarm is at least `large` on the map."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await ensure_demo_users(conn)  # the feed logs in as the demo integrator
    finally:
        await conn.close()
    lines: list[str] = []
    with live_server(demo_db) as url:
        stats = await run_feed(url, rate=2, excursions=1.0, duration_s=16, step_s=1.0,
                               status_every_s=2, on_status=lines.append)  # fmt: skip
        assert stats.failed_posts == 0
        assert stats.readings > POINTS and stats.excursions >= 5
        assert lines[0].startswith(f"feed: {POINTS:,} points")
        assert any("readings in" in line for line in lines[1:])
        assert await _val(demo_db, OFFLINE_NOW) == 0
        stored = await _val(demo_db, "SELECT count(DISTINCT point_id) FROM readings")
        assert stored == POINTS
        assert await _val(demo_db, "SELECT count(*) FROM readings") == stats.readings
        opened = await _val(demo_db, "SELECT count(DISTINCT episode) FROM alarms")
        escalated = await _val(demo_db, "SELECT count(*) FROM alarms WHERE end_reason = "
                                        "'escalated'")  # fmt: skip
        closed = await _val(demo_db, "SELECT count(*) FROM alarms WHERE end_reason = 'normal'")
        assert opened >= 3 and escalated >= 3 and closed >= 1
        assert stats.alarms["opened"] == opened
        unit, since = await _alarmed_unit(demo_db)
        level = await _val(demo_db, "SELECT current_level FROM risk_units WHERE code = $1", unit)
        assert level in ("large", "major")
        async with httpx.AsyncClient(base_url=url) as client:
            login = {"username": "viewer", "password": "viewer-demo"}
            token = (await client.post("/auth/token", json=login)).json()["access_token"]
            r = await client.get(f"/risk-units/{unit}/grade", params={"as_of": since.isoformat()},
                                 headers={"Authorization": f"Bearer {token}"})  # fmt: skip
            grade = r.json()
        top = next(f for f in grade["factors"] if f["code"] == "alarm_highest")
        assert (top["k"], top["records"][0]["level"]) == (0.4, 1)
        assert any(f["code"] == "F2" and f["fired"] for f in grade["floors"])


async def _alarmed_unit(settings: Settings) -> tuple[str, Any]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT u.code, a.started_at FROM alarms a JOIN risk_units u ON u.id = a.risk_unit_id "
            "WHERE a.level = 1 ORDER BY a.started_at LIMIT 1"
        )
        assert row is not None
        return row["code"], row["started_at"]
    finally:
        await conn.close()
