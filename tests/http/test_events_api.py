"""Event APIs: the hidden-hazard loop, weather warnings, special periods, accidents."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from api.settings import Settings
from tests.conftest import app_client, role_headers

NOW = datetime.now(UTC).replace(microsecond=0)


def box(lon: float, lat: float, d: float = 0.05) -> dict[str, Any]:
    """A GeoJSON square around a point."""
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d],
            [lon - d, lat - d]]  # fmt: skip
    return {"type": "Polygon", "coordinates": [ring]}


async def seed(settings: Settings) -> None:
    """Two low units 20 km apart: a gas station (IN) and a drainage pump (OUT)."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        await conn.execute(
            """
            INSERT INTO risk_units (code, name, category, registered_level, geom) VALUES
              ('IN', 'gas station', 'gas', 'low', 'SRID=4326;POINT(108.9 34.2)'),
              ('OUT', 'drainage pump', 'drainage', 'low', 'SRID=4326;POINT(109.1 34.2)');
            """
        )
    finally:
        await conn.close()


async def level(client: Any, code: str) -> str:
    """The unit's graded level now."""
    return (await client.get(f"/risk-units/{code}/grade")).json()["level"]


async def test_hidden_hazard_loop(empty_db: Settings) -> None:
    """Report, assign, rectify, verify (failed, then passed), close: every step recorded."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["editor"]) as client:
        r = await client.post("/hidden-hazards", json={
            "code": "HH1", "name": "corroded main", "risk_unit": "IN", "severity": "major",
            "due_date": (NOW + timedelta(days=30)).date().isoformat(), "note": "found on patrol",
        })  # fmt: skip
        assert r.status_code == 201, r.text
        out = r.json()
        assert (out["status"], out["open"], out["overdue"], out["risk_unit"]) == (
            "reported", True, False, "IN")  # fmt: skip
        assert [(c["from"], c["to"]) for c in out["regrade"]["level_changes"]] == [
            (None, "large")]  # F1  # fmt: skip
        assert (await client.post("/hidden-hazards/HH1/rectify")).status_code == 409
        assert (await client.post("/hidden-hazards/HH1/assign", json={})).status_code == 400
        steps = [
            ("assign", {"assignee": "gas company", "note": "fix in 30 days"}, "assigned"),
            ("rectify", {"note": "pipe replaced"}, "rectifying"),
            ("verify", {"passed": False, "note": "weld leaks"}, "assigned"),
            ("rectify", {}, "rectifying"),
            ("verify", {}, "verified"),
            ("close", {}, "closed"),
        ]
        for action, body, status in steps:
            # separation of duties: the rectifier (editor) does not verify
            who = headers["admin"] if action == "verify" else None
            r = await client.post(f"/hidden-hazards/HH1/{action}", json=body, headers=who)
            assert r.status_code == 200, (action, r.text)
            assert r.json()["status"] == status
        out = (await client.get("/hidden-hazards/HH1")).json()
        assert [(e["from"], e["to"]) for e in out["events"]] == [
            (None, "reported"), ("reported", "assigned"), ("assigned", "rectifying"),
            ("rectifying", "assigned"), ("assigned", "rectifying"), ("rectifying", "verified"),
            ("verified", "closed")]  # fmt: skip
        assert out["events"][3]["note"] == "weld leaks" and out["assignee"] == "gas company"
        assert out["open"] is False and out["closed_at"] is not None
        # verified: no longer open, but the 24 h hysteresis holds the unit at large
        grade = (await client.get("/risk-units/IN/grade")).json()
        assert (grade["level"], grade["decided_by"]) == ("large", "hysteresis")
        assert (await client.post("/hidden-hazards/HH1/close")).status_code == 409
        assert (await client.get("/hidden-hazards/NOPE")).status_code == 404


async def test_overdue_is_derived(empty_db: Settings) -> None:
    """An open hazard past the end of its due date is overdue and counts double."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    due = (NOW - timedelta(days=2)).date()
    async with app_client(empty_db, headers["integrator"]) as client:
        r = await client.post("/hidden-hazards", json={
            "code": "HH2", "name": "blocked exit", "risk_unit": "OUT", "severity": "general",
            "reported_at": (NOW - timedelta(days=10)).isoformat(), "due_date": due.isoformat(),
        })  # fmt: skip
        assert r.status_code == 201 and r.json()["overdue"] is True
        listed = (await client.get("/hidden-hazards", params={"overdue": "true"})).json()
        assert [h["code"] for h in listed] == ["HH2"]
        assert (await client.get("/hidden-hazards", params={"unit": "IN"})).json() == []
        grade = (await client.get("/risk-units/OUT/grade")).json()
        (factor,) = grade["factors"]
        assert (factor["code"], factor["k"], factor["records"][0]["overdue"]) == (
            "hidden_general", 0.1, True)  # fmt: skip


async def test_weather_warning_regrades_units_inside(empty_db: Settings) -> None:
    """A red heat warning over IN: relevant to gas (F3: large); OUT lies outside."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["integrator"]) as client:
        await client.post("/grading/run", headers=headers["admin"])
        r = await client.post("/weather-warnings", json={
            "code": "W1", "type": "heat", "colour": "red", "geometry": box(108.9, 34.2),
            "valid_from": (NOW - timedelta(hours=1)).isoformat(),
            "valid_to": (NOW + timedelta(hours=12)).isoformat(),
        })  # fmt: skip
        assert r.status_code == 201, r.text
        out = r.json()
        assert out["regrade"]["units"] == 1
        assert [(c["code"], c["from"], c["to"]) for c in out["regrade"]["level_changes"]] == [
            ("IN", "low", "large")]  # fmt: skip
        assert out["geometry"]["type"] == "MultiPolygon"
        # rainstorm over both: relevant to drainage (OUT), not to gas
        r = await client.post("/weather-warnings", json={
            "code": "W2", "type": "rainstorm", "colour": "orange",
            "geometry": box(109.0, 34.2, 0.2),
            "valid_from": (NOW - timedelta(hours=1)).isoformat(),
            "valid_to": (NOW + timedelta(hours=12)).isoformat(),
        })  # fmt: skip
        assert [(c["code"], c["to"]) for c in r.json()["regrade"]["level_changes"]] == [
            ("OUT", "general")]  # fmt: skip
        assert len((await client.get("/weather-warnings", params={"active": "true"})).json()) == 2
        r = await client.post(
            "/weather-warnings",
            json={
                "code": "W1",
                "type": "heat",
                "colour": "red",
                "geometry": box(108.9, 34.2),
                "valid_from": NOW.isoformat(),
                "valid_to": (NOW + timedelta(hours=1)).isoformat(),
            },
        )
        assert r.status_code == 409
        r = await client.post("/weather-warnings/W1/cancel")
        assert r.status_code == 200 and r.json()["cancelled_at"] is not None
        assert r.json()["regrade"]["level_changes"] == []  # held 24 h
        assert (await client.post("/weather-warnings/W1/cancel")).status_code == 409
        bad = await client.post("/weather-warnings", json={
            "code": "W3", "type": "heat", "colour": "red", "geometry": {"type": "Point",
            "coordinates": [1, 2]}, "valid_from": NOW.isoformat(),
            "valid_to": (NOW + timedelta(hours=1)).isoformat()})  # fmt: skip
        assert bad.status_code == 400


async def test_citywide_special_period_and_accident(empty_db: Settings) -> None:
    """A citywide period regrades every unit (+0.10); a large accident holds F4 (large)."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    async with app_client(empty_db, headers["integrator"]) as client:
        period = {
            "code": "ND",
            "name": "National Day",
            "starts_at": (NOW - timedelta(hours=1)).isoformat(),
            "ends_at": (NOW + timedelta(days=6)).isoformat(),
        }
        r = await client.post("/special-periods", json=period)
        assert r.status_code == 201, r.text
        assert r.json()["citywide"] is True and r.json()["regrade"]["units"] == 2
        grade = (await client.get("/risk-units/IN/grade")).json()
        assert [(f["code"], f["k"]) for f in grade["factors"]] == [("special_period", 0.1)]
        r = await client.post("/accidents", json={
            "code": "AC1", "name": "deflagration", "risk_unit": "OUT", "grade": "large",
            "occurred_at": (NOW - timedelta(days=3)).isoformat(), "deaths": 3})  # fmt: skip
        assert r.status_code == 201, r.text
        assert [(c["code"], c["to"]) for c in r.json()["regrade"]["level_changes"]] == [
            ("OUT", "large")]  # fmt: skip
        listed = (await client.get("/accidents", params={"unit": "OUT"})).json()
        assert [(a["code"], a["grade"], a["deaths"]) for a in listed] == [("AC1", "large", 3)]
        future = await client.post("/accidents", json={
            "code": "AC2", "name": "x", "risk_unit": "OUT", "grade": "general",
            "occurred_at": (NOW + timedelta(days=1)).isoformat()})  # fmt: skip
        assert future.status_code == 400
        r = await client.post("/special-periods/ND/cancel")
        assert r.status_code == 200 and r.json()["cancelled_at"] is not None
        again = await client.post("/special-periods/ND/cancel")
        assert again.status_code == 409 and "special period ND was already cancelled" in again.text
        unknown = await client.post("/special-periods/NOPE/cancel")
        assert unknown.status_code == 404 and "no special period with code 'NOPE'" in unknown.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/hidden-hazards"),
        ("post", "/hidden-hazards/HH/assign"),
        ("post", "/weather-warnings"),
        ("post", "/weather-warnings/W/cancel"),
        ("post", "/special-periods"),
        ("post", "/special-periods/S/cancel"),
        ("post", "/accidents"),
    ],
)
async def test_refused_roles(empty_db: Settings, method: str, path: str) -> None:
    """No credential: 401; viewers and analysts: 403 (hazards: editors too may report)."""
    headers = await role_headers(empty_db)
    async with app_client(empty_db) as client:
        assert (await client.request(method, path, json={})).status_code == 401
        for role in ("viewer", "analyst") + (() if "hidden" in path else ("editor",)):
            r = await client.request(method, path, json={}, headers=headers[role])
            assert r.status_code == 403, (role, r.text)
        for get in ("/hidden-hazards", "/weather-warnings", "/special-periods", "/accidents"):
            assert (await client.get(get, headers=headers["viewer"])).status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "other"),
    [
        ("/hidden-hazards",
         {"code": "HH9", "name": "leak", "risk_unit": "IN", "severity": "general",
          "due_date": "2030-01-01"},
         {"severity": "major"}),
        ("/weather-warnings",
         {"code": "W9", "type": "heat", "colour": "red", "geometry": box(108.9, 34.2),
          "valid_from": (NOW - timedelta(hours=1)).isoformat(),
          "valid_to": (NOW + timedelta(hours=2)).isoformat()},
         {"colour": "orange"}),
        ("/special-periods",
         {"code": "P9", "name": "games", "starts_at": (NOW - timedelta(hours=1)).isoformat(),
          "ends_at": (NOW + timedelta(days=1)).isoformat()},
         {"name": "other games"}),
        ("/accidents",
         {"code": "A9", "name": "fire", "risk_unit": "OUT", "grade": "general",
          "occurred_at": (NOW - timedelta(days=2)).isoformat()},
         {"deaths": 1}),
    ],
)  # fmt: skip
async def test_event_posts_are_safe_to_retry(
    empty_db: Settings, path: str, body: dict[str, Any], other: dict[str, Any]
) -> None:
    """The same event sent again (same code, same content, even with its times in another
    zone) is answered 200 with the stored record, `unchanged`, nothing written and no
    regrade; the same code with other content is 409. Two identical sends at once: one
    201, one 200."""
    await seed(empty_db)
    headers = await role_headers(empty_db)
    table = path.strip("/").replace("-", "_")
    async with app_client(empty_db, headers["integrator"]) as client:
        first = await client.post(path, json=body)
        assert first.status_code == 201, first.text
        assert "unchanged" not in first.json()
        shifted = {
            k: (datetime.fromisoformat(v).astimezone(timezone(timedelta(hours=8))).isoformat()
                if k in ("valid_from", "valid_to", "starts_at", "ends_at", "occurred_at") else v)
            for k, v in body.items()
        }  # fmt: skip
        again = await client.post(path, json=shifted)
        assert again.status_code == 200, again.text
        replay = again.json()
        assert replay["unchanged"] is True
        assert replay["regrade"] == {"units": 0, "done": True, "level_changes": []}
        assert replay["code"] == first.json()["code"]
        clash = await client.post(path, json={**body, **other})
        assert clash.status_code == 409, clash.text
        assert "already exists with other content" in clash.json()["detail"]
        twin = {**body, "code": body["code"] + "b"}
        pair = await asyncio.gather(client.post(path, json=twin), client.post(path, json=twin))
        assert sorted(r.status_code for r in pair) == [200, 201]
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        n = await conn.fetchval(f"SELECT count(*) FROM {table}")  # table from the fixed list
        audits = await conn.fetchval("SELECT count(*) FROM audit_log WHERE $1 = ANY(records)",
                                     body["code"])  # fmt: skip
    finally:
        await conn.close()
    assert (n, audits) == (2, 1)
