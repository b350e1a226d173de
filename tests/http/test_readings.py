"""POST /monitoring/readings: idempotent batches, validation, liveness, alarms, regrades."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from api.monitoring.alarms import OpenAlarm, alarm_code, transitions
from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.support.grading_db import seed_gas_unit

NOW = datetime.now(UTC).replace(second=0, microsecond=0)
T0 = NOW - timedelta(hours=2)


def ts(minutes: float) -> str:
    """T0 + minutes, as the API takes it (in Xi'an time)."""
    return (T0 + timedelta(minutes=minutes)).astimezone().isoformat()


async def seed(settings: Settings) -> None:
    """The gas unit GAS1 with points CH4-1 and P-1."""
    await seed_gas_unit(settings.database_url)


def body(*rows: tuple[str, float, float]) -> dict[str, Any]:
    """A readings batch from (point, minutes after T0, value)."""
    return {"readings": [{"point": p, "ts": ts(m), "value": v} for p, m, v in rows]}


async def count(settings: Settings, sql: str) -> Any:
    """One value from the test database."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


async def test_batches_are_idempotent(empty_db: Settings) -> None:
    """A batch sent twice changes nothing; an overlapping batch stores only the new readings."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    first = body(("CH4-1", 0, 1.0), ("CH4-1", 1, 1.5), ("P-1", 0, 0.4))
    async with app_client(empty_db, headers["integrator"]) as client:
        r = await client.post("/monitoring/readings", json=first)
        assert r.status_code == 200, r.text
        out = r.json()
        assert (out["received"], out["stored"], out["duplicates"], out["duplicate_batch"],
                out["path"]) == (3, 3, 0, False, "copy")  # fmt: skip
        assert out["batch"].startswith("sha256:")
        again = (await client.post("/monitoring/readings", json=first)).json()
        assert (again["stored"], again["duplicates"], again["duplicate_batch"], again["path"]) == (
            0, 3, True, "ledger")  # fmt: skip
        overlap = body(("CH4-1", 1, 1.5), ("CH4-1", 2, 1.7), ("P-1", 0, 0.4), ("P-1", 5, 0.41))
        out = (await client.post("/monitoring/readings", json=overlap)).json()
        assert (out["stored"], out["duplicates"], out["path"]) == (2, 2, "staging")
        # an Idempotency-Key names the batch whatever its bytes
        keyed = body(("CH4-1", 3, 1.1))
        r1 = await client.post("/monitoring/readings", json=keyed,
                               headers={"Idempotency-Key": "gw-7/000123"})  # fmt: skip
        r2 = await client.post("/monitoring/readings", json=body(("CH4-1", 4, 1.2)),
                               headers={"Idempotency-Key": "gw-7/000123"})  # fmt: skip
        assert r1.json()["stored"] == 1 and r2.json()["duplicate_batch"] is True
        # the same reading twice in one batch counts once
        twice = body(("CH4-1", 6, 2.0), ("CH4-1", 6, 2.0))
        out = (await client.post("/monitoring/readings", json=twice)).json()
        assert (out["received"], out["stored"], out["duplicates"]) == (2, 1, 1)
    assert await count(empty_db, "SELECT count(*) FROM readings") == 7
    assert await count(empty_db, "SELECT count(*) FROM reading_batches") == 4
    state = await count(
        empty_db,
        "SELECT r.value FROM monitoring_point_state s "
        "JOIN monitoring_points p ON p.id = s.point_id "
        "JOIN readings r ON r.point_id = s.point_id AND r.ts = s.last_reading_at "
        "WHERE p.code = 'CH4-1'",
    )
    assert state == 2.0


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (f'{{"point": "NOPE", "ts": "{ts(0)}", "value": 1}}', "readings.point"),
        ('{"point": "CH4-1", "ts": "2026-06-01T08:00:00", "value": 1}', "readings.1.ts"),
        (f'{{"point": "CH4-1", "ts": "{ts(0)}", "value": "NaN"}}', "readings.1.value"),
        (f'{{"point": "CH4-1", "ts": "{ts(0)}", "value": null}}', "readings.1.value"),
        (f'{{"point": "CH4-1", "ts": "{ts(0)}", "value": 1e400}}', "body"),
        (f'{{"point": "CH4-1", "ts": "{(NOW + timedelta(hours=1)).isoformat()}", "value": 1}}',
         "readings.1.ts"),
        (f'{{"point": "CH4-1", "ts": "{(NOW - timedelta(days=400)).isoformat()}", "value": 1}}',
         "readings.1.ts"),
    ],
)  # fmt: skip
async def test_bad_batches_store_nothing(empty_db: Settings, bad: str, field: str) -> None:
    """Unknown point, naive/far-future/expired time, non-finite value: 400, nothing stored."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    raw = f'{{"readings": [{{"point": "P-1", "ts": "{ts(0)}", "value": 0.4}}, {bad}]}}'
    async with app_client(empty_db, headers["integrator"]) as client:
        r = await client.post("/monitoring/readings", content=raw,
                              headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 400, r.text
    problem = r.json()
    assert "nothing was stored" in problem["detail"]
    assert [e["field"] for e in problem["errors"]] == [field]
    assert await count(empty_db, "SELECT count(*) FROM readings") == 0
    assert await count(empty_db, "SELECT count(*) FROM reading_batches") == 0


async def test_conflicting_duplicate_in_one_batch_is_400(empty_db: Settings) -> None:
    """Two values for one point and time in one batch: 400, nothing stored."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["integrator"]) as client:
        r = await client.post("/monitoring/readings",
                              json=body(("CH4-1", 0, 1.0), ("CH4-1", 0, 2.0)))  # fmt: skip
    assert r.status_code == 400 and "two different values for point CH4-1" in r.json()["detail"]
    assert await count(empty_db, "SELECT count(*) FROM readings") == 0


async def test_csv_batches(empty_db: Settings) -> None:
    """CSV with a point,ts,value header goes the same way."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    csv = f"point,ts,value\nCH4-1,{ts(0)},1.5\nP-1,{ts(0)},0.40\n"
    async with app_client(empty_db, headers["integrator"]) as client:
        r = await client.post("/monitoring/readings", content=csv,
                              headers={"content-type": "text/csv"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == 2
        r = await client.post("/monitoring/readings", content=b"<x/>",
                              headers={"content-type": "application/xml"})  # fmt: skip
        assert r.status_code == 415


async def test_roles(empty_db: Settings) -> None:
    """Only integrators (and admins) push readings; 401 without a credential."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db) as client:
        assert (await client.post("/monitoring/readings", json=body())).status_code == 401
        for role in ("viewer", "analyst", "editor"):
            r = await client.post("/monitoring/readings", json=body(("CH4-1", 0, 1.0)),
                                  headers=headers[role])  # fmt: skip
            assert r.status_code == 403, role
        r = await client.post("/monitoring/readings", json=body(("CH4-1", 0, 1.0)),
                              headers=headers["admin"])  # fmt: skip
        assert r.status_code == 200
        r = await client.post("/monitoring/alarms/x/false-alarm", headers=headers["viewer"])
        assert r.status_code == 403
        assert (
            await client.get("/monitoring/alarms", headers=headers["viewer"])
        ).status_code == 200


async def test_alarms_open_escalate_deescalate_close_and_regrade(empty_db: Settings) -> None:
    """Readings past thresholds make alarm periods; the unit's level follows."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["integrator"]) as client:
        out = (await client.post("/monitoring/readings", json=body(
            ("CH4-1", 0, 1.0), ("P-1", 0, 0.4)))).json()  # fmt: skip
        assert out["alarms"] == {"opened": 0, "escalated": 0, "deescalated": 0, "closed": 0}
        assert out["regrade"]["units"] == 1  # first readings: the points came online
        out = (await client.post("/monitoring/readings", json=body(
            ("CH4-1", 1, 12.0), ("CH4-1", 2, 60.0), ("CH4-1", 3, 25.0)))).json()  # fmt: skip
        assert out["alarms"] == {"opened": 1, "escalated": 1, "deescalated": 1, "closed": 0}
        # graded now: the level-1 minute is over, level 2 is active (+0.20): R = 2.4, still low
        assert out["regrade"]["level_changes"] == []
        alarms = (await client.get("/monitoring/alarms", params={"unit": "GAS1"})).json()
        assert [(a["level"], a["end_reason"], a["ended_at"] is None) for a in alarms] == [
            (2, None, True), (1, "deescalated", False), (3, "escalated", False)]  # fmt: skip
        assert len({a["episode"] for a in alarms}) == 1
        # back to normal: the episode closes
        out = (await client.post("/monitoring/readings", json=body(("CH4-1", 4, 2.0)))).json()
        assert out["alarms"]["closed"] == 1
        active = (await client.get("/monitoring/alarms", params={"active": "true"})).json()
        assert active == []
        # a pressure drop (a 'below' point) opens a level-1 alarm: F2 makes the unit large
        out = (await client.post("/monitoring/readings", json=body(("P-1", 5, 0.1)))).json()
        assert out["alarms"]["opened"] == 1
        assert [(c["code"], c["from"], c["to"]) for c in out["regrade"]["level_changes"]] == [
            ("GAS1", "low", "large")]  # fmt: skip
        (alarm,) = (await client.get("/monitoring/alarms", params={"active": "true"})).json()
        assert (alarm["point"], alarm["level"]) == ("P-1", 1)
        # confirmed false, it stops counting; the level-1 methane minute of the last 24 h
        # still holds the level (hysteresis)
        r = await client.post(f"/monitoring/alarms/{alarm['code']}/false-alarm",
                              json={"note": "sensor fault"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["periods"] == [alarm["code"]]
        assert r.json()["regrade"]["level_changes"] == []
        grade = (await client.get("/risk-units/GAS1/grade")).json()
        assert (grade["level"], grade["decided_by"], grade["stored"]["level"]) == (
            "large", "hysteresis", "large")  # fmt: skip
        # readings stopped two hours ago: both points are offline by now
        assert [f["code"] for f in grade["factors"]] == ["offline_points"]
        assert grade["hysteresis"]["would_be"] == "low"
        history = (await client.get("/risk-units/GAS1/grade/history")).json()["items"]
        assert [(h["from"], h["to"]) for h in history] == [("low", "large"), (None, "low")]
        f2 = history[0]["explanation"]["floors"][2]
        assert (f2["code"], f2["fired"], f2["records"]) == ("F2", True, [alarm["code"]])


async def test_gaps_become_offline_periods(empty_db: Settings) -> None:
    """A reading after more than the expected interval records the gap as offline."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["integrator"]) as client:
        await client.post("/monitoring/readings", json=body(("CH4-1", 0, 1.0)))
        out = (await client.post("/monitoring/readings", json=body(
            ("CH4-1", 0.5, 1.0), ("CH4-1", 10, 1.0), ("CH4-1", 11, 1.0)))).json()  # fmt: skip
        assert out["offline_periods"] == 1
        late = (await client.post("/monitoring/readings", json=body(("CH4-1", 5, 1.0)))).json()
        assert late["stored"] == 1 and late["offline_periods"] == 0  # late: stored, not a gap
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        (period,) = await conn.fetch("SELECT started_at, ended_at FROM monitoring_offline_periods")
    finally:
        await conn.close()
    assert period["started_at"] == T0 + timedelta(minutes=1.5)
    assert period["ended_at"] == T0 + timedelta(minutes=10)


def test_transitions_walk_readings_in_order() -> None:
    """The alarm state machine: levels change, the episode carries on, normal ends it."""
    t = [T0 + timedelta(minutes=i) for i in range(6)]
    tr = transitions("P", None, [(t[0], 1, 0), (t[1], 9, 3), (t[2], 9, 3), (t[3], 60, 1),
                                 (t[4], 1, 0), (t[5], 30, 2)])  # fmt: skip
    assert tr.end_open is None
    assert [(n.level, n.started_at, n.ended_at, n.end_reason) for n in tr.new] == [
        (3, t[1], t[3], "escalated"), (1, t[3], t[4], "normal"), (2, t[5], None, None)]  # fmt: skip
    assert tr.new[0].episode == tr.new[1].episode == alarm_code("P", t[1])
    assert tr.new[2].episode == alarm_code("P", t[5])
    current = OpenAlarm(7, 2, "EP", t[0])
    tr = transitions("P", current, [(t[1], 30, 2), (t[2], 4, 0)])
    assert tr.end_open == (t[2], "normal") and tr.new == []
    tr = transitions("P", current, [(t[1], 12, 3)])
    assert tr.end_open == (t[1], "deescalated") and tr.new[0].episode == "EP"


@pytest.mark.parametrize("concurrent", [False, True], ids=["in-turn", "concurrent"])
async def test_same_batch_three_times(empty_db: Settings, concurrent: bool) -> None:
    """The same batch sent three times (in turn, or at once): one row per (point, ts), 200 each."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    batch = body(*[("CH4-1" if i % 2 else "P-1", i // 2, 1.0 + i / 100) for i in range(200)])
    async with app_client(empty_db, headers["integrator"]) as client:
        if concurrent:
            answers = await asyncio.gather(
                *(client.post("/monitoring/readings", json=batch) for _ in range(3))
            )
        else:
            answers = [await client.post("/monitoring/readings", json=batch) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200], [r.text for r in answers]
    outs = [r.json() for r in answers]
    assert len({o["batch"] for o in outs}) == 1
    assert sorted(o["stored"] for o in outs) == [0, 0, 200]  # one of them stored it all
    assert sorted(o["duplicate_batch"] for o in outs) == [False, True, True]
    assert all(o["received"] == 200 for o in outs)
    assert await count(empty_db, "SELECT count(*) FROM readings") == 200
    assert await count(
        empty_db, "SELECT count(*) FROM (SELECT DISTINCT point_id, ts FROM readings) d"
    ) == 200  # fmt: skip
    assert await count(empty_db, "SELECT count(*) FROM reading_batches") == 1
