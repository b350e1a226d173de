"""Vector tiles: content against PostGIS, clustering, filters, status codes, caching, auth."""

from __future__ import annotations

import asyncio
import gzip
import math
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx
import mapbox_vector_tile
import pytest
from fastapi import FastAPI
from pyproj import Transformer

from api.codes import LEVELS
from api.settings import Settings
from api.tiles.spec import SPECS, composite_layers
from api.tiles.sql import CLUSTER_CELLS
from tests.conftest import role_headers, running_app

T14 = (14, 13150, 6530)  # central Xi'an
T8 = (8, 205, 102)
EMPTY = (14, 0, 0)  # the Arctic Ocean
MARGIN = 256 / 4096
TO_3857 = Transformer.from_crs(4326, 3857, always_xy=True)


@asynccontextmanager
async def served(
    settings: Settings, headers: dict[str, str] | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app with its lifespan running and a client on it."""
    async with running_app(settings) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=headers or {}
        ) as client:
            yield app, client


def decode(data: bytes) -> dict[str, Any]:
    """Decode an MVT with tile coordinates (y down, as encoded)."""
    return mapbox_vector_tile.decode(data, default_options={"y_coord_down": True})


async def in_tile(
    conn: asyncpg.Connection, table: str, zxy: tuple[int, int, int], where: str = "true"
) -> list[asyncpg.Record]:
    """Rows whose geometry meets the tile grown by the buffer (PostGIS's own answer)."""
    return await conn.fetch(
        f"SELECT * FROM {table} WHERE ST_Intersects(ST_Transform(geom, 3857), "
        f"ST_TileEnvelope($1, $2, $3, margin => {MARGIN})) AND {where} ORDER BY id",
        *zxy,
    )


def tile_xy(lon: float, lat: float, zxy: tuple[int, int, int]) -> tuple[float, float]:
    """A lon/lat in the tile's 0..4096 coordinates (y down)."""
    z, x, y = zxy
    size = 2 * math.pi * 6378137 / 2**z
    mx, my = TO_3857.transform(lon, lat)
    west = -math.pi * 6378137 + x * size
    north = math.pi * 6378137 - y * size
    return (mx - west) / size * 4096, (north - my) / size * 4096


async def test_risk_units_at_high_zoom_match_postgis(tiles_db: Settings) -> None:
    """z14: one feature per unit in the tile, id, level, category and position as stored."""
    headers = (await role_headers(tiles_db))["viewer"]
    conn = await asyncpg.connect(tiles_db.database_url)
    try:
        rows = await in_tile(conn, "risk_units", T14)
        coords = {
            r["id"]: (r["x"], r["y"])
            for r in await conn.fetch(
                "SELECT id, ST_X(geom) AS x, ST_Y(geom) AS y FROM risk_units "
                "WHERE GeometryType(geom) = 'POINT'"
            )
        }
    finally:
        await conn.close()
    async with served(tiles_db, headers) as (_app, client):
        r = await client.get("/tiles/risk_units/{}/{}/{}.mvt".format(*T14))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    layers = decode(r.content)
    assert list(layers) == ["risk_units"]
    features = {f["id"]: f for f in layers["risk_units"]["features"]}
    assert len(rows) == 6
    assert sorted(features) == [row["id"] for row in rows]
    for row in rows:
        f = features[row["id"]]
        expected = {"code": row["code"], "name": row["name"], "category": row["category"]}
        if row["current_level"] is not None:
            expected["current_level"] = row["current_level"]
        assert f["properties"] == expected
        if row["id"] in coords:
            assert f["geometry"]["type"] == "Point"
            fx, fy = f["geometry"]["coordinates"]
            ex, ey = tile_xy(*coords[row["id"]], T14)
            assert abs(fx - ex) <= 1 and abs(fy - ey) <= 1
        else:
            assert f["geometry"]["type"] == "Polygon"


async def test_points_cluster_at_low_zoom(tiles_db: Settings) -> None:
    """z8: points aggregate per grid cell with their count and worst level (checked in Python)."""
    headers = (await role_headers(tiles_db))["viewer"]
    conn = await asyncpg.connect(tiles_db.database_url)
    try:
        rows = await conn.fetch(
            "SELECT ST_X(p) AS x, ST_Y(p) AS y, current_level FROM ("
            "  SELECT ST_PointOnSurface(geom) AS p, current_level FROM risk_units"
            "  WHERE ST_Intersects(ST_Transform(geom, 3857),"
            f"        ST_TileEnvelope($1, $2, $3, margin => {MARGIN}))) u",
            *T8,
        )
    finally:
        await conn.close()
    cell = 2 * math.pi * 6378137 / 2 ** T8[0] / CLUSTER_CELLS
    cells: dict[tuple[int, int], list[str | None]] = {}
    for r in rows:
        mx, my = TO_3857.transform(r["x"], r["y"])
        cells.setdefault((math.floor(mx / cell), math.floor(my / cell)), []).append(
            r["current_level"]
        )
    expected: Counter[tuple[int, str | None]] = Counter()
    for levels in cells.values():
        ranked = [LEVELS.index(lv) for lv in levels if lv is not None]
        expected[(len(levels), LEVELS[max(ranked)] if ranked else None)] += 1
    async with served(tiles_db, headers) as (_app, client):
        r = await client.get("/tiles/risk_units/{}/{}/{}.mvt".format(*T8))
    features = decode(r.content)["risk_units"]["features"]
    got = Counter(
        (f["properties"]["count"], f["properties"].get("current_level")) for f in features
    )
    assert len(rows) == 9  # all but the far factory
    assert got == expected
    assert sum(f["properties"]["count"] for f in features) == len(rows)
    assert all("id" not in f or f["id"] in (None, 0) for f in features)


@pytest.mark.parametrize(
    ("query", "where"),
    [
        ("level=major", "current_level = 'major'"),
        ("level=major,large", "current_level IN ('major', 'large')"),
        ("level=major&level=low", "current_level IN ('major', 'low')"),
        ("category=gas", "category = 'gas'"),
        ("district=610103", "district = '610103'"),
        ("level=large&district=610103", "current_level = 'large' AND district = '610103'"),
        ("category=gas,power&level=low", "category IN ('gas', 'power') AND current_level = 'low'"),
    ],
)
async def test_filters_match_postgis(tiles_db: Settings, query: str, where: str) -> None:
    """level, category and district filters keep exactly the rows PostGIS selects."""
    headers = (await role_headers(tiles_db))["viewer"]
    conn = await asyncpg.connect(tiles_db.database_url)
    try:
        rows = await in_tile(conn, "risk_units", T14, where)
    finally:
        await conn.close()
    async with served(tiles_db, headers) as (_app, client):
        r = await client.get("/tiles/risk_units/{}/{}/{}.mvt?".format(*T14) + query)
    assert rows, "the fixture must leave something to find"
    assert r.status_code == 200
    ids = sorted(f["id"] for f in decode(r.content)["risk_units"]["features"])
    assert ids == [row["id"] for row in rows]


async def test_other_layers_match_postgis(tiles_db: Settings) -> None:
    """Monitoring points, population cells and lifelines: counts and trimmed properties."""
    headers = (await role_headers(tiles_db))["viewer"]
    conn = await asyncpg.connect(tiles_db.database_url)
    try:
        tables = ("monitoring_points", "population_cells", "lifelines")
        expected = {t: await in_tile(conn, t, T14) for t in tables}
    finally:
        await conn.close()
    async with served(tiles_db, headers) as (_app, client):
        r = await client.get(
            "/tiles/monitoring_points,population_cells,lifelines/{}/{}/{}.mvt".format(*T14)
        )
    layers = decode(r.content)
    assert list(layers) == ["monitoring_points", "population_cells", "lifelines"]
    for table, rows in expected.items():
        features = layers[table]["features"]
        assert sorted(f["id"] for f in features) == [row["id"] for row in rows], table
        props = SPECS[table].properties
        by_id = {row["id"]: row for row in rows}
        for f in features:
            assert f["properties"] == {p: by_id[f["id"]][p] for p in props}
    assert len(expected["monitoring_points"]) == 8


async def test_composite_carries_the_layers_of_its_zoom(tiles_db: Settings) -> None:
    """The onemap tile = the zoom's layers in one response; a level filter narrows risk units."""
    headers = (await role_headers(tiles_db))["viewer"]
    async with served(tiles_db, headers) as (_app, client):
        r14 = await client.get("/tiles/onemap/{}/{}/{}.mvt".format(*T14))
        r8 = await client.get("/tiles/onemap/{}/{}/{}.mvt".format(*T8))
        major = await client.get("/tiles/onemap/{}/{}/{}.mvt?level=major".format(*T14))
        single = await client.get("/tiles/monitoring_points/{}/{}/{}.mvt".format(*T14))
    assert set(decode(r14.content)) == {"districts", "lifelines", "risk_units", "monitoring_points"}
    assert set(composite_layers(14)) >= set(decode(r14.content))
    assert set(decode(r8.content)) == {"districts", "risk_units"}
    assert "monitoring_points" not in composite_layers(8)
    filtered = decode(major.content)
    assert {f["properties"]["current_level"] for f in filtered["risk_units"]["features"]} == {
        "major"
    }
    # the level filter does not apply to layers without levels
    assert filtered["monitoring_points"] == decode(single.content)["monitoring_points"]


async def test_status_codes_without_touching_the_database(tiles_db: Settings) -> None:
    """400 for bad z/x/y and bad filters (no query run), 404 unknown layer, 204 empty tile."""
    headers = (await role_headers(tiles_db))["viewer"]
    async with served(tiles_db, headers) as (app, client):
        before = app.state.tiles.queries
        for path in (
            "/tiles/risk_units/23/0/0.mvt",
            "/tiles/risk_units/3/8/0.mvt",
            "/tiles/risk_units/3/0/8.mvt",
            "/tiles/risk_units/3/-1/0.mvt",
            "/tiles/risk_units/a/0/0.mvt",
            "/tiles/risk_units/3/0/0.mvt?level=catastrophic",
            "/tiles/risk_units/3/0/0.mvt?category=volcano",
            "/tiles/population_cells/3/0/0.mvt?level=major",
            "/tiles/risk_units/3/0/0.mvt?district=x%27%3B%20drop",
            "/tiles/risk_units/3/0/0.mvt?levle=major",
            "/tiles/risk_units/tilejson.json?colour=red",
        ):
            r = await client.get(path)
            assert r.status_code == 400, path
            assert r.headers["content-type"] == "application/problem+json"
        assert (await client.get("/tiles/volcanoes/3/0/0.mvt")).status_code == 404
        assert app.state.tiles.queries == before
        empty = await client.get("/tiles/risk_units/{}/{}/{}.mvt".format(*EMPTY))
    assert empty.status_code == 204
    assert empty.content == b""
    assert empty.headers["etag"]


async def test_duplicates_collapse_gzip_etag_304(tiles_db: Settings) -> None:
    """Duplicate names are one layer; gzip when accepted; If-None-Match gives 304."""
    headers = (await role_headers(tiles_db))["viewer"]
    url = "/tiles/risk_units/{}/{}/{}.mvt".format(*T14)
    async with served(tiles_db, headers) as (_app, client):
        plain = await client.get(url, headers={"accept-encoding": "identity"})
        dup = await client.get(
            url.replace("risk_units", "risk_units,risk_units"),
            headers={"accept-encoding": "identity"},
        )
        gz = await client.get(url, headers={"accept-encoding": "gzip, deflate"})
        raw = await client.send(
            client.build_request("GET", url, headers={"accept-encoding": "gzip"}), stream=True
        )
        compressed = b"".join([c async for c in raw.aiter_raw()])
        not_modified = await client.get(url, headers={"if-none-match": plain.headers["etag"]})
        other = await client.get(url, headers={"if-none-match": 'W/"something-else"'})
    assert "content-encoding" not in plain.headers
    assert dup.content == plain.content
    assert dup.headers["etag"] == plain.headers["etag"]
    assert list(decode(dup.content)) == ["risk_units"]
    assert gz.headers["content-encoding"] == "gzip"
    assert gzip.decompress(compressed) == plain.content
    assert len(compressed) < len(plain.content)
    assert gz.headers["vary"] == "Accept-Encoding"
    assert plain.headers["cache-control"] == "private, no-cache"
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert other.status_code == 200


async def test_credentials_checked_before_any_cache(tiles_db: Settings) -> None:
    """A cached tile is still refused without a valid credential (401), for every route."""
    headers = await role_headers(tiles_db)
    url = "/tiles/risk_units/{}/{}/{}.mvt".format(*T14)
    async with served(tiles_db) as (_app, client):
        ok = await client.get(url, headers=headers["viewer"])
        assert ok.status_code == 200
        for path in (url, "/tiles/onemap/tilejson.json", "/styles/onemap.json"):
            for bad in ({}, {"X-API-Key": "om_000000000000_nope"}):
                r = await client.get(path, headers=bad)
                assert r.status_code == 401, (path, bad)
            r = await client.get(path, headers={"if-none-match": ok.headers["etag"]})
            assert r.status_code == 401
        for role in ("viewer", "analyst", "editor", "integrator", "admin"):
            assert (await client.get(url, headers=headers[role])).status_code == 200


def _level_of(data: bytes, unit_id: int) -> str:
    for f in decode(data)["risk_units"]["features"]:
        if f["id"] == unit_id:
            return str(f["properties"]["current_level"])
    raise AssertionError(f"unit {unit_id} not in the tile")


async def test_level_change_invalidates_both_caches(tiles_db: Settings, redis_url: str) -> None:
    """UPDATE current_level: every process (own cache, shared Redis) serves the new level."""
    settings = tiles_db.model_copy(update={"redis_url": redis_url})
    headers = (await role_headers(settings))["viewer"]
    url = "/tiles/risk_units/{}/{}/{}.mvt".format(*T14)
    composite = "/tiles/onemap/{}/{}/{}.mvt".format(*T14)
    conn = await asyncpg.connect(settings.database_url)
    try:
        unit = await conn.fetchval("SELECT id FROM risk_units WHERE code = 'RU2'")
        async with served(settings, headers) as (a, client_a):
            first = await client_a.get(url)
            await client_a.get(composite)
            assert _level_of(first.content, unit) == "low"
            assert a.state.tiles.queries == 2
            again = await client_a.get(url)
            assert again.content == first.content and a.state.tiles.queries == 2
            async with served(settings, headers) as (b, client_b):
                from_redis = await client_b.get(url)
                assert from_redis.content == first.content
                assert from_redis.headers["etag"] == first.headers["etag"]
                assert b.state.tiles.queries == 0  # served from Redis
                old = a.state.tiles.versions.cached(["risk_units"])[0]
                await conn.execute(
                    "UPDATE risk_units SET current_level = 'major' WHERE id = $1", unit
                )
                async with asyncio.timeout(10):
                    await a.state.tiles.versions.wait_changed("risk_units", old)
                    await b.state.tiles.versions.wait_changed("risk_units", old)
                after_a = await client_a.get(url)
                after_b = await client_b.get(url)
                after_composite = await client_a.get(composite)
                stale = await client_a.get(url, headers={"if-none-match": first.headers["etag"]})
    finally:
        await conn.close()
    assert _level_of(after_a.content, unit) == "major"
    assert _level_of(after_b.content, unit) == "major"
    assert _level_of(after_composite.content, unit) == "major"
    assert after_a.headers["etag"] != first.headers["etag"]
    assert stale.status_code == 200
    assert a.state.tiles.queries == 4 and b.state.tiles.queries in (0, 1)


async def test_other_layers_keep_their_cache(tiles_db: Settings) -> None:
    """A change to risk_units leaves monitoring-point tiles cached (exactly that layer)."""
    headers = (await role_headers(tiles_db))["viewer"]
    url = "/tiles/monitoring_points/{}/{}/{}.mvt".format(*T14)
    conn = await asyncpg.connect(tiles_db.database_url)
    try:
        async with served(tiles_db, headers) as (app, client):
            first = await client.get(url)
            old = app.state.tiles.versions.cached(["risk_units"])[0]
            await conn.execute("UPDATE risk_units SET current_level = 'low' WHERE code = 'RU1'")
            async with asyncio.timeout(10):
                await app.state.tiles.versions.wait_changed("risk_units", old)
            queries = app.state.tiles.queries
            again = await client.get(url)
            assert app.state.tiles.queries == queries
    finally:
        await conn.close()
    assert again.headers["etag"] == first.headers["etag"]


async def test_versions_read_per_request_without_listener(tiles_db: Settings) -> None:
    """With the listener down, versions come from the table: still no stale tile."""
    headers = (await role_headers(tiles_db))["viewer"]
    url = "/tiles/risk_units/{}/{}/{}.mvt".format(*T14)
    conn = await asyncpg.connect(tiles_db.database_url)
    try:
        unit = await conn.fetchval("SELECT id FROM risk_units WHERE code = 'RU3'")
        async with served(tiles_db, headers) as (app, client):
            await app.state.tiles.versions.close()
            assert not app.state.tiles.versions.listening
            first = await client.get(url)
            await conn.execute("UPDATE risk_units SET current_level = 'low' WHERE id = $1", unit)
            second = await client.get(url)
    finally:
        await conn.close()
    assert _level_of(first.content, unit) == "large"
    assert _level_of(second.content, unit) == "low"


async def test_uncached_settings_always_render(tiles_db: Settings) -> None:
    """tile_cache_mb=0 turns the cache off (the benchmark's uncached runs)."""
    settings = tiles_db.model_copy(update={"tile_cache_mb": 0})
    headers = (await role_headers(settings))["viewer"]
    async with served(settings, headers) as (app, client):
        for _ in range(3):
            assert (
                await client.get("/tiles/risk_units/{}/{}/{}.mvt".format(*T14))
            ).status_code == 200
        assert app.state.tiles.queries == 3


async def test_feature_cap(tiles_db: Settings) -> None:
    """At most tile_max_features features per layer per tile."""
    settings = tiles_db.model_copy(update={"tile_max_features": 3})
    headers = (await role_headers(settings))["viewer"]
    async with served(settings, headers) as (_app, client):
        r = await client.get("/tiles/monitoring_points/{}/{}/{}.mvt".format(*T14))
    assert len(decode(r.content)["monitoring_points"]["features"]) == 3


async def test_fast_path_errors_and_root_path(
    tiles_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tiles are served before FastAPI's middleware stack (api/asgi.py): under a root path
    they are still found, and an unexpected failure is the app's own 500 problem document
    (logged), never a bare server error or a stack trace."""
    settings = tiles_db.model_copy(update={"root_path": "/gis", "tile_cache_mb": 0})
    headers = (await role_headers(settings))["viewer"]
    path = "/gis/tiles/risk_units/{}/{}/{}.mvt".format(*T14)
    async with served(settings, headers) as (app, client):
        ok = await client.get(path)
        assert ok.status_code == 200 and decode(ok.content)["risk_units"]["features"]
        assert app.state.tiles.queries == 1

        async def broken(*_args: object) -> bytes:
            raise RuntimeError("database exploded at 12:00 with SELECT secret")

        monkeypatch.setattr(app.state.tiles, "render", broken)
        r = await client.get(path)
        assert r.status_code == 500
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["title"] == "Internal error" and "secret" not in r.text
