"""Bounds of the analysis: every cap, bad geometry, bad distance and the statement timeout."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import asyncpg
import pytest

from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.support import dbutil
from tests.support.city import O, load_city

SQUARE = [[108.9, 34.25], [108.91, 34.25], [108.91, 34.26], [108.9, 34.26], [108.9, 34.25]]


def _poly(ring: list[Any]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [ring]}


async def _problem(
    settings: Settings, headers: dict[str, str], path: str, body: Any, status: int
) -> dict[str, Any]:
    async with app_client(settings, headers) as client:
        r = await client.post(path, json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    problem = r.json()
    assert "SELECT" not in r.text and "Traceback" not in r.text
    return problem


@pytest.mark.parametrize(
    ("geometry", "reason"),
    [
        (
            _poly(
                [[108.9, 34.25], [108.91, 34.26], [108.91, 34.25], [108.9, 34.26], [108.9, 34.25]]
            ),
            "geometry: invalid Polygon: Self-intersection[108.905 34.255]",
        ),
        (
            _poly(SQUARE[:-1]),
            "geometry: ring 0 is not closed (its first and last positions differ)",
        ),
        (
            _poly([[108.9, 34.25], [108.91, 34.25], [108.9, 34.25]]),
            "geometry: ring 0 has 3 positions; a ring needs 4 or more",
        ),
        (
            {"type": "Point", "coordinates": [108.9, 95.0]},
            "geometry: coordinates latitude 95.0 is outside -90..90",
        ),
        (
            {"type": "Point", "coordinates": [208.9, 34.0]},
            "geometry: coordinates longitude 208.9 is outside -180..180",
        ),
        (
            {"type": "Point", "coordinates": ["108.9", 34.0]},
            "geometry: coordinates has a non-numeric coordinate '108.9'",
        ),
        (
            {"type": "LineString", "coordinates": [[108.9, 34.25]]},
            "geometry: a LineString needs 2 or more positions",
        ),
        (
            {"type": "GeometryCollection", "geometries": []},
            "geometry: type 'GeometryCollection' is not supported; use one of Point, MultiPoint, "
            "LineString, MultiLineString, Polygon, MultiPolygon",
        ),
        (
            {
                "type": "Point",
                "coordinates": [108.9, 34.25],
                "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
            },
            "geometry: unknown or unsupported CRS 'EPSG:3857'; send WGS84 lon/lat (EPSG:4326, "
            "CRS84 or CGCS2000 EPSG:4490)",
        ),
        ({"type": "Polygon", "coordinates": 5}, "geometry: coordinates must be an array"),
    ],
)
async def test_bad_geometries_are_400_with_the_reason(
    city_db: Settings,
    city_headers: dict[str, dict[str, str]],
    geometry: dict[str, Any],
    reason: str,
) -> None:
    """Self-intersections, open or short rings, off-globe or non-numeric coordinates, ..."""
    body = {"geometry": geometry, "distance_m": 100}
    problem = await _problem(city_db, city_headers["analyst"], "/analysis/buffer", body, 400)
    assert problem["detail"] == reason


async def test_nan_and_infinity_are_400(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """JSON NaN/Infinity (which Python's parser accepts) never reach PostGIS."""
    async with app_client(city_db, city_headers["analyst"]) as client:
        for raw in (
            '{"point": [NaN, 34.25], "distance_m": 10}',
            '{"point": [108.9, 34.25], "distance_m": Infinity}',
            '{"geometry": {"type": "Point", "coordinates": [108.9, NaN]}, "distance_m": 10}',
        ):
            r = await client.post(
                "/analysis/buffer", content=raw, headers={"content-type": "application/json"}
            )
            assert r.status_code == 400, (raw, r.text)
    assert math.isnan(float("nan"))


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"point": O, "distance_m": -1}, "distance_m: Input should be greater than or equal to 0"),
        (
            {"point": O, "distance_m": 1e300},
            "distance_m=1e+300 is above the cap analysis_max_radius_m=50000",
        ),
        (
            {"point": O, "distance_m": 50_001},
            "distance_m=50001 is above the cap analysis_max_radius_m=50000",
        ),
        (
            {"point": O, "distance_m": "far"},
            "distance_m: Input should be a valid number, unable to parse string as a number",
        ),  # fmt: skip
        ({"distance_m": 10}, "give exactly one of point, geometry or feature"),
        (
            {"point": O, "geometry": {"type": "Point", "coordinates": O}, "distance_m": 10},
            "give exactly one of point, geometry or feature (got point, geometry)",
        ),
        (
            {"point": [108.9, 91], "distance_m": 10},
            "geometry: point latitude 91.0 is outside -90..90",
        ),
        ({"point": O, "distance_m": 10, "extra": 1}, "extra: Extra inputs are not permitted"),
        ({"point": O, "distance_m": 10, "layers": ["nope"]}, "layers: unknown layer 'nope'"),
        (
            {"point": O, "distance_m": 10, "layers": ["risk\u0000units"]},
            "text values may not contain NUL characters",
        ),
        (
            {"point": O, "distance_m": 10, "where": {"vulnerable_sites": {"occupants": 2**70}}},
            f"where.vulnerable_sites.occupants: {2**70} is out of range",
        ),
    ],
)
async def test_bad_distances_and_bodies_are_400(
    city_db: Settings, city_headers: dict[str, dict[str, str]], body: dict[str, Any], detail: str
) -> None:
    """Negative, huge, non-numeric distances; not exactly one input; unknown members."""
    problem = await _problem(city_db, city_headers["analyst"], "/analysis/buffer", body, 400)
    assert problem["detail"].startswith(detail)


async def test_caps_name_themselves(empty_db: Settings) -> None:
    """k, radius, vertex count, result size and body size past their (small) caps."""
    await load_city(empty_db)
    settings = dbutil.settings_for(
        Settings(environment="test"),
        empty_db.database_url.rsplit("/", 1)[1],
        analysis_max_k=3,
        analysis_max_radius_m=2000,
        analysis_max_vertices=10,
        analysis_max_features=2,
        analysis_max_body_bytes=2048,
    )
    h = (await role_headers(settings))["analyst"]
    p = await _problem(
        settings, h, "/analysis/nearest", {"point": O, "layer": "shelters", "k": 4}, 400
    )
    assert p["detail"] == "k=4 is above the cap analysis_max_k=3" and p["cap"] == "analysis_max_k"
    p = await _problem(settings, h, "/analysis/impact", {"point": O, "radius_m": 2500}, 400)
    assert p["detail"] == "radius_m=2500 is above the cap analysis_max_radius_m=2000"
    p = await _problem(settings, h, "/analysis/coverage", {"distance_m": 2001}, 400)
    assert p["cap"] == "analysis_max_radius_m"
    ring = [[108.9 + 0.001 * i, 34.25 + 0.0001 * i * i] for i in range(11)] + [[108.9, 34.25]]
    p = await _problem(
        settings, h, "/analysis/buffer", {"geometry": _poly(ring), "distance_m": 10}, 413
    )
    assert p["detail"] == (
        "geometry has more than 10 vertices (cap analysis_max_vertices=10); simplify it"
    )
    # three features within 1000 m of O in these two layers: more than 2
    p = await _problem(
        settings,
        h,
        "/analysis/buffer",
        {"point": O, "distance_m": 1000, "layers": ["risk_units", "vulnerable_sites"]},
        400,
    )
    assert p["cap"] == "analysis_max_features" and p["limit"] == 2
    assert p["detail"].startswith("the result has more than 2 features")
    p = await _problem(settings, h, "/analysis/impact", {"point": O, "radius_m": 1000}, 400)
    assert p["cap"] == "analysis_max_features"
    body = {"point": O, "radius_m": 10, "teams_k": 4}
    p = await _problem(settings, h, "/analysis/impact", body, 400)
    assert p["detail"] == "teams_k=4 is above the cap analysis_max_k=3"
    big = {"point": O, "distance_m": 10, "layers": ["risk_units"] * 400}
    p = await _problem(settings, h, "/analysis/buffer", big, 413)
    assert p["detail"] == (
        "the request body is larger than 2048 bytes (cap analysis_max_body_bytes=2048)"
    )
    async with app_client(settings, h) as client:
        counts_only = await client.post(
            "/analysis/overlay",
            json={"layer": "risk_units", "with": {"layer": "districts"}, "return_features": False},
        )
        assert counts_only.status_code == 200
        assert counts_only.json()["counts"]["total"] == 6


async def test_statement_timeout_is_503_and_the_query_is_cancelled(empty_db: Settings) -> None:
    """A query past the statement timeout answers 503, and PostgreSQL stops running it.

    A test session holds a lock on shelters, so the nearest-shelter query waits; the
    server's statement_timeout (300 ms here) cancels it.
    """
    await load_city(empty_db)
    settings = dbutil.settings_for(
        Settings(environment="test"),
        empty_db.database_url.rsplit("/", 1)[1],
        statement_timeout_ms=300,
    )
    h = (await role_headers(settings))["analyst"]
    dbname = settings.database_url.rsplit("/", 1)[1]
    locker = await asyncpg.connect(settings.database_url)
    watcher = await asyncpg.connect(settings.database_url)
    try:
        async with app_client(settings, h) as client:
            assert (await client.get("/auth/me")).status_code == 200  # key cached, pool warm
            tx = locker.transaction()
            await tx.start()
            await locker.execute("LOCK TABLE shelters IN ACCESS EXCLUSIVE MODE")
            request = asyncio.create_task(
                client.post("/analysis/nearest", json={"point": O, "layer": "shelters"})
            )
            waiting: list[asyncpg.Record] = []
            for _ in range(100):
                waiting = await watcher.fetch(
                    "SELECT pid, wait_event_type FROM pg_stat_activity WHERE datname = $1 "
                    "AND application_name = 'onemap' AND state = 'active' "
                    "AND query LIKE '%nearest%'",
                    dbname,
                )
                if waiting or request.done():
                    break
                await asyncio.sleep(0.02)
            r = await request
            assert waiting and waiting[0]["wait_event_type"] == "Lock"
            assert r.status_code == 503, r.text
            # the lock is still held: only a cancellation can have ended the query
            state = await watcher.fetchrow(
                "SELECT state, query FROM pg_stat_activity WHERE pid = $1", waiting[0]["pid"]
            )
            assert state is not None and state["state"] == "idle", state
            await tx.rollback()
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["title"] == "Query timed out"
        assert r.headers["retry-after"] == "5"
    finally:
        await locker.close()
        await watcher.close()
