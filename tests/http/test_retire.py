"""Retire and restore: DELETE /layers/{layer}/features/{code} takes the row off every map,
query and tile and keeps it in history; what pointed at it is linked again on restore;
a retired code is not silently reused; a feature others still point at stays.

On the scoped fixture city of tests/http/test_editing.py (RU6: rail, East, alone in its
tile at z12).
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

import mapbox_vector_tile

from tests.http import test_editing
from tests.http.test_editing import City

city = test_editing.city  # the scoped fixture city, served (a fixture)

TILE_Z = 12


def _tile(lon: float, lat: float, z: int = TILE_Z) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


async def _tile_codes(city: City, layer: str, lon: float, lat: float) -> set[str]:
    r = await city.client.get(
        "/tiles/{}/{}/{}/{}.mvt".format(layer, *_tile(lon, lat)), headers=city.keys["viewer"]
    )
    assert r.status_code in (200, 204), r.text
    if r.status_code == 204 or not r.content:
        return set()
    layers = mapbox_vector_tile.decode(r.content)
    return {str(f["properties"].get("code")) for f in layers.get(layer, {}).get("features", [])}


async def _in_tile(city: City, code: str, lon: float, lat: float) -> bool:
    """Whether the unit is in its tile once the layer's new version has reached the app
    (NOTIFY after commit, so a few polls at most: 20 s is only a bound under load)."""
    deadline = time.monotonic() + 20
    expected = await city.sql("SELECT count(*) FROM risk_units WHERE code = $1", code) == 1
    while True:
        found = code in await _tile_codes(city, "risk_units", lon, lat)
        if found == expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.05)


async def _delete(city: City, layer: str, code: str) -> Any:
    etag = (await city.get(code, layer)).headers["etag"]
    return await city.client.delete(
        f"/layers/{layer}/features/{code}", headers={**city.keys["city"], "If-Match": etag}
    )


async def test_retired_unit_leaves_everything_and_comes_back_whole(city: City) -> None:
    """A unit with a hazard, an accident, a monitoring point, an alarm and grade history:
    retired, it is gone from features, tiles and grades (the tile version moves) and stays
    in history; its code cannot be taken by a new feature; restored, all come back linked."""
    h = city.keys["city"]
    made = await city.client.post(
        "/hidden-hazards", headers=h,
        json={"code": "HH-6", "name": "crack", "risk_unit": "RU6", "severity": "major"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    await city.sql(
        "INSERT INTO accidents (code, name, risk_unit_id, grade, occurred_at, geom) "
        "SELECT 'AC-6', 'a', id, 'large', now() - interval '1 day', geom FROM risk_units "
        "WHERE code = 'RU6'"
    )
    await city.sql(
        "WITH p AS (INSERT INTO monitoring_points (code, name, risk_unit_id, kind, domain, "
        "direction, threshold_l4, threshold_l3, threshold_l2, threshold_l1, "
        "expected_interval_s, geom) SELECT 'MP-6', 'p', id, 'gas_concentration', 'lifeline', "
        "'above', 5, 10, 20, 50, 60, geom FROM risk_units WHERE code = 'RU6' RETURNING id, "
        "risk_unit_id, geom) INSERT INTO alarms (code, name, point_id, risk_unit_id, episode, "
        "level, started_at, geom) SELECT 'AL-6', 'a', id, risk_unit_id, 'EP-6', 2, "
        "now() - interval '1 hour', geom FROM p"
    )
    graded = await city.client.post("/grading/run", headers=city.keys["admin"])
    assert graded.status_code == 200, graded.text
    level = await city.sql("SELECT current_level FROM risk_units WHERE code = 'RU6'")
    grades = await city.sql(
        "SELECT count(*) FROM grade_history g JOIN risk_units u ON u.id = g.risk_unit_id "
        "WHERE u.code = 'RU6'"
    )
    assert level is not None and grades >= 1
    lon, lat = (await city.get("RU6")).json()["geometry"]["coordinates"]
    assert await _in_tile(city, "RU6", lon, lat)
    version = await city.sql("SELECT version FROM layer_versions WHERE layer = 'risk_units'")

    gone = await _delete(city, "risk_units", "RU6")
    assert gone.status_code == 200, gone.text
    assert (await city.get("RU6")).status_code == 404
    page = await city.client.get("/layers/risk_units/features", headers=city.keys["viewer"])
    assert "RU6" not in [f["properties"]["code"] for f in page.json()["features"]]
    assert await city.sql("SELECT version FROM layer_versions WHERE layer = 'risk_units'") > (
        version
    )
    assert not await _in_tile(city, "RU6", lon, lat)
    grade = await city.client.get("/risk-units/RU6/grade", headers=city.keys["viewer"])
    assert grade.status_code == 404
    hist = await city.client.get(
        "/layers/risk_units/features/RU6/history", headers=city.keys["viewer"]
    )
    assert hist.json()["versions"][0]["op"] == "retire"
    # the links are cut, not lost: the hazard, accident, point and alarm stay
    assert await city.sql(
        "SELECT count(*) FROM hidden_hazards h JOIN accidents a ON a.code = 'AC-6' "
        "JOIN monitoring_points p ON p.code = 'MP-6' JOIN alarms al ON al.code = 'AL-6' "
        "WHERE h.code = 'HH-6' AND h.risk_unit_id IS NULL AND a.risk_unit_id IS NULL "
        "AND p.risk_unit_id IS NULL AND al.risk_unit_id IS NULL"
    ) == 1  # fmt: skip
    assert await city.sql("SELECT count(*) FROM grade_history WHERE risk_unit_id IS NULL") >= (
        grades
    )

    # a new feature may not take the retired code (its history is RU6's)
    reuse = await city.client.post(
        "/layers/risk_units/features", headers=h,
        json={"type": "Feature", "properties": {"code": "RU6", "name": "other", "category": "gas"},
              "geometry": {"type": "Point", "coordinates": [108.97, 34.26]}},
    )  # fmt: skip
    assert reuse.status_code == 409, reuse.text
    assert "retired" in reuse.json()["detail"] and "restore" in reuse.json()["detail"]

    back = await city.client.post(
        "/layers/risk_units/features/RU6/restore", json={"version": 1},
        headers=city.keys["admin"],
    )  # fmt: skip
    assert back.status_code == 200, back.text
    assert back.json()["properties"]["current_level"] == level
    assert await _in_tile(city, "RU6", lon, lat)
    linked = await city.sql(
        "SELECT count(*) FROM risk_units u JOIN hidden_hazards h ON h.risk_unit_id = u.id "
        "JOIN accidents a ON a.risk_unit_id = u.id JOIN monitoring_points p "
        "ON p.risk_unit_id = u.id JOIN alarms al ON al.risk_unit_id = u.id "
        "WHERE u.code = 'RU6' AND h.code = 'HH-6' AND a.code = 'AC-6' AND p.code = 'MP-6' "
        "AND al.code = 'AL-6'"
    )
    assert linked == 1
    assert await city.sql(
        "SELECT count(*) FROM grade_history g JOIN risk_units u ON u.id = g.risk_unit_id "
        "WHERE u.code = 'RU6'"
    ) >= grades  # fmt: skip
    assert await city.sql("SELECT count(*) FROM retired_links") == 0
    ops = [
        v["op"]
        for v in (
            await city.client.get(
                "/layers/risk_units/features/RU6/history", headers=city.keys["viewer"]
            )
        ).json()["versions"]
    ]
    assert ops[:2] in (["create", "retire"], ["update", "create"])  # (a regrade may follow)
    assert "retire" in ops


async def test_retired_point_keeps_alarms_and_readings(city: City) -> None:
    """A monitoring point with an alarm and readings: retiring it keeps both (it was
    refused before); restoring it links them again."""
    await city.sql(
        "WITH p AS (INSERT INTO monitoring_points (code, name, risk_unit_id, kind, domain, "
        "direction, threshold_l4, threshold_l3, threshold_l2, threshold_l1, "
        "expected_interval_s, geom) SELECT 'MP-1', 'p', id, 'gas_concentration', 'lifeline', "
        "'above', 5, 10, 20, 50, 60, geom FROM risk_units WHERE code = 'RU1' RETURNING id, "
        "risk_unit_id, geom) INSERT INTO alarms (code, name, point_id, risk_unit_id, episode, "
        "level, started_at, geom) SELECT 'AL-1', 'a', id, risk_unit_id, 'EP-1', 2, "
        "now() - interval '1 hour', geom FROM p"
    )
    await city.sql("SELECT onemap_ensure_reading_partitions(now() - interval '1 day', now())")
    await city.sql(
        "INSERT INTO readings (point_id, ts, value) SELECT id, now() - interval '5 minutes', "
        "12 FROM monitoring_points WHERE code = 'MP-1'"
    )
    gone = await _delete(city, "monitoring_points", "MP-1")
    assert gone.status_code == 200, gone.text
    assert await city.sql("SELECT point_id IS NULL FROM alarms WHERE code = 'AL-1'")
    back = await city.client.post(
        "/layers/monitoring_points/features/MP-1/restore", json={"version": 1},
        headers=city.keys["admin"],
    )  # fmt: skip
    assert back.status_code == 200, back.text
    assert await city.sql(
        "SELECT count(*) FROM monitoring_points p JOIN alarms a ON a.point_id = p.id "
        "JOIN readings r ON r.point_id = p.id WHERE p.code = 'MP-1' AND a.code = 'AL-1'"
    ) == 1  # fmt: skip


async def test_a_feature_others_point_at_stays(city: City) -> None:
    """A rescue team an incident dispatched cannot be retired: 409, nothing written."""
    await city.sql(
        "WITH i AS (INSERT INTO incidents (kind, severity, title, occurred_at, created_by, "
        "geom) VALUES ('fire', 3, 'fire', now(), 'tests', 'SRID=4326;POINT(108.9 34.25)') "
        "RETURNING id) INSERT INTO dispatches (incident_id, team_id, eta_s, created_by) "
        "SELECT i.id, t.id, 60, 'tests' FROM i, rescue_teams t ORDER BY t.id LIMIT 1"
    )
    team = await city.sql("SELECT t.code FROM rescue_teams t JOIN dispatches d ON d.team_id = t.id")
    versions = await city.sql("SELECT count(*) FROM feature_history")
    r = await _delete(city, "rescue_teams", team)
    assert r.status_code == 409, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert "dispatches" in r.json()["detail"]
    assert (await city.get(team, "rescue_teams")).status_code == 200
    assert await city.sql("SELECT count(*) FROM feature_history") == versions


async def test_retired_depot_comes_back_with_its_stock(city: City) -> None:
    """A depot's stock goes with it (ON DELETE CASCADE) and comes back with a restore."""
    code = await city.sql(
        "SELECT d.code FROM reserve_depots d JOIN depot_stock s ON s.depot_id = d.id "
        "ORDER BY d.code LIMIT 1"
    )
    stock = "SELECT string_agg(item_type || ':' || quantity || unit, ',' ORDER BY item_type) "
    stock += "FROM depot_stock s JOIN reserve_depots d ON d.id = s.depot_id WHERE d.code = $1"
    before = await city.sql(stock, code)
    total = await city.sql("SELECT sum(quantity) FROM depot_stock")
    assert before
    gone = await _delete(city, "reserve_depots", code)
    assert gone.status_code == 200, gone.text
    assert await city.sql(stock, code) is None
    assert await city.sql("SELECT coalesce(sum(quantity), 0) FROM depot_stock") < total
    back = await city.client.post(
        f"/layers/reserve_depots/features/{code}/restore", json={"version": 1},
        headers=city.keys["admin"],
    )  # fmt: skip
    assert back.status_code == 200, back.text
    assert await city.sql(stock, code) == before
    assert await city.sql("SELECT sum(quantity) FROM depot_stock") == total
    assert await city.sql("SELECT count(*) FROM retired_rows") == 0
