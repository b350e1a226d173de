"""The road network as a tile layer: what the map draws under the routes, by class and zoom."""

from __future__ import annotations

import asyncio
import math

import asyncpg
import mapbox_vector_tile

from api.settings import Settings
from api.tiles.spec import MAJOR_ROADS, ROADS_MINZOOM
from tests.conftest import app_client, role_headers
from tests.support.city import O
from tests.support.routing_grid import load_grid_roads

MARGIN = 256 / 4096
BELL_TOWER = (108.9423, 34.2610)


def _tile(z: int, lon: float, lat: float) -> tuple[int, int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return z, x, y


async def _in_tile(conn: asyncpg.Connection, zxy: tuple[int, int, int], major: bool) -> set[int]:
    rows = await conn.fetch(
        "SELECT id FROM roads WHERE ST_Intersects(ST_Transform(geom, 3857), "
        f"ST_TileEnvelope($1, $2, $3, margin => {MARGIN})) "
        "AND (NOT $4 OR road_class = ANY ($5::text[]))",
        *zxy,
        major,
        list(MAJOR_ROADS),
    )
    return {r["id"] for r in rows}


async def test_road_tiles_by_zoom_match_postgis(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """At the Bell Tower: z14 carries every road in the tile (local streets included), z12
    the classes from tertiary up only, z11 none (204); the ids and classes are PostGIS's."""
    z14, z12 = _tile(14, *BELL_TOWER), _tile(12, *BELL_TOWER)
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        every14 = await _in_tile(conn, z14, major=False)
        major12 = await _in_tile(conn, z12, major=True)
        classes = dict(await conn.fetch("SELECT id, road_class FROM roads WHERE id = ANY($1)",
                                        list(every14)))  # fmt: skip
    finally:
        await conn.close()
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        got = {}
        for zxy in (z14, z12, _tile(11, *BELL_TOWER)):
            r = await client.get("/tiles/roads/{}/{}/{}.mvt".format(*zxy))
            assert r.status_code == (204 if zxy[0] < ROADS_MINZOOM else 200), r.text
            got[zxy[0]] = mapbox_vector_tile.decode(r.content).get("roads", {}).get("features", [])
        tilejson = (await client.get("/tiles/roads/tilejson.json")).json()
    assert {f["id"] for f in got[14]} == every14
    assert len(every14) > 300
    assert {f["properties"]["road_class"] for f in got[14]} >= {"residential", "primary"}
    for f in got[14]:
        assert f["properties"]["road_class"] == classes[f["id"]]
        assert f["properties"]["code"] and isinstance(f["properties"]["oneway"], bool)
    assert {f["id"] for f in got[12]} == major12
    assert 0 < len(major12) < 10_000
    assert not {f["properties"]["road_class"] for f in got[12]} - set(MAJOR_ROADS)
    assert got[11] == [] and ROADS_MINZOOM == 12
    assert [v["id"] for v in tilejson["vector_layers"]] == ["roads"]


async def test_road_tiles_follow_an_edit_and_the_style_draws_them(empty_db: Settings) -> None:
    """Closing a road changes its tile (the roads' layer version moves, so the cached tile
    is not served again); the style draws the `roads` source by class from zoom 12."""
    await load_grid_roads(empty_db)
    headers = (await role_headers(empty_db))["viewer"]
    zxy = _tile(15, *O)
    url = "/tiles/roads/{}/{}/{}.mvt".format(*zxy)
    async with app_client(empty_db, headers) as client:
        first = await client.get(url)
        feats = mapbox_vector_tile.decode(first.content)["roads"]["features"]
        assert feats and not any(f["properties"]["closed"] for f in feats)
        target = feats[0]["id"]
        conn = await asyncpg.connect(empty_db.database_url)
        try:
            await conn.execute(
                "UPDATE roads SET closed = true, cost_s = -1, reverse_cost_s = -1 WHERE id = $1",
                target,
            )
        finally:
            await conn.close()
        closed: list[int] = []
        for _ in range(50):  # the change reaches the app through its LISTEN connection
            r = await client.get(url)
            layer = mapbox_vector_tile.decode(r.content)["roads"]["features"]
            closed = [f["id"] for f in layer if f["properties"]["closed"]]
            if closed:
                break
            await asyncio.sleep(0.1)
        assert closed == [target]
        assert r.headers["etag"] != first.headers["etag"]
        style = (await client.get("/styles/onemap.json")).json()
    layer = next(s for s in style["layers"] if s["id"] == "roads-line")
    assert layer["source"] == "roads" and layer["source-layer"] == "roads"
    assert layer["minzoom"] == ROADS_MINZOOM and layer["type"] == "line"
    assert style["sources"]["roads"]["url"].endswith("/tiles/roads/tilejson.json")
