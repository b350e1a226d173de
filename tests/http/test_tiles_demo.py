"""Tiles over the Xi'an demo city: sizes at low zoom, counts and levels against PostGIS."""

from __future__ import annotations

import asyncpg
import mapbox_vector_tile

from api.settings import Settings
from api.tiles.spec import composite_layers
from tests.conftest import app_client

MARGIN = 256 / 4096
CENTRE = {8: (8, 205, 102), 10: (10, 822, 408), 12: (12, 3287, 1632), 14: (14, 13150, 6530)}


async def _count(conn: asyncpg.Connection, table: str, zxy: tuple[int, int, int]) -> int:
    return int(
        await conn.fetchval(
            f"SELECT count(*) FROM {table} WHERE ST_Intersects(ST_Transform(geom, 3857), "
            f"ST_TileEnvelope($1, $2, $3, margin => {MARGIN}))",
            *zxy,
        )
    )


async def test_monitoring_points_at_z8_are_aggregated_and_small(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """23,675 sensors: the z8 tile holds grid cells whose counts add up to PostGIS's count."""
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        total = await conn.fetchval("SELECT count(*) FROM monitoring_points")
        inside = await _count(conn, "monitoring_points", CENTRE[8])
    finally:
        await conn.close()
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        r = await client.get("/tiles/monitoring_points/{}/{}/{}.mvt".format(*CENTRE[8]))
    assert total == 22_067 + 1_608  # the generated sensors and the hydrants on the roads
    features = mapbox_vector_tile.decode(r.content)["monitoring_points"]["features"]
    assert sum(f["properties"]["count"] for f in features) == inside
    assert inside > 10_000
    assert len(features) < inside / 5
    assert len(r.content) < 100_000  # not the 2 MB of every point


async def test_risk_units_at_z12_match_postgis_levels(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """Central Xi'an at z12: every unit once, with its current level and category."""
    zxy = CENTRE[12]
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        rows = await conn.fetch(
            "SELECT id, code, name, category, current_level FROM risk_units WHERE ST_Intersects("
            f"ST_Transform(geom, 3857), ST_TileEnvelope($1, $2, $3, margin => {MARGIN}))",
            *zxy,
        )
    finally:
        await conn.close()
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        one = await client.get("/tiles/risk_units/{}/{}/{}.mvt".format(*zxy))
        comp = await client.get("/tiles/onemap/{}/{}/{}.mvt".format(*zxy))
        major = await client.get("/tiles/risk_units/{}/{}/{}.mvt?level=major".format(*zxy))
    assert rows
    features = mapbox_vector_tile.decode(one.content)["risk_units"]["features"]
    got = {f["id"]: f["properties"] for f in features}
    assert len(got) == len(features) == len(rows)
    for row in rows:
        props = got[row["id"]]
        assert props["category"] == row["category"]
        assert (props["code"], props["name"]) == (row["code"], row["name"])
        assert props.get("current_level") == row["current_level"]
    layers = mapbox_vector_tile.decode(comp.content)
    assert set(layers) <= set(composite_layers(12))
    assert {"districts", "risk_units"} <= set(layers)
    assert len(layers["risk_units"]["features"]) == len(rows)
    majors = [r["id"] for r in rows if r["current_level"] == "major"]
    if majors:
        decoded = mapbox_vector_tile.decode(major.content)["risk_units"]["features"]
        assert sorted(f["id"] for f in decoded) == sorted(majors)
    else:
        assert major.status_code == 204


async def test_composite_zooms_over_the_demo(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """Each zoom's composite carries only that zoom's layers, and stays small at low zoom."""
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        for z, zxy in CENTRE.items():
            r = await client.get("/tiles/onemap/{}/{}/{}.mvt".format(*zxy))
            assert r.status_code == 200, z
            layers = set(mapbox_vector_tile.decode(r.content))
            assert layers <= set(composite_layers(z)), z
            assert "districts" in layers
            if z <= 10:
                assert len(r.content) < 300_000, (z, len(r.content))


async def test_composite_filters_reach_only_the_layers_they_fit(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """z13 centre: category=gas narrows risk units and lifelines (their choices hold gas);
    sensors and teams (free-text kind/speciality) stay whole; district narrows everything."""
    zxy = (13, 6575, 3265)
    conn = await asyncpg.connect(demo_ro.database_url)
    try:
        in_tile = (
            f"ST_Intersects(ST_Transform(geom, 3857), ST_TileEnvelope($1, $2, $3, margin => "
            f"{MARGIN}))"
        )
        gas_units = await conn.fetchval(
            f"SELECT count(*) FROM risk_units WHERE category = 'gas' AND {in_tile}", *zxy
        )
        gas_lines = await conn.fetchval(
            f"SELECT count(*) FROM lifelines WHERE kind = 'gas' AND {in_tile}", *zxy
        )
        district = await conn.fetchval(
            f"SELECT district FROM risk_units WHERE {in_tile} GROUP BY 1 ORDER BY count(*) DESC "
            "LIMIT 1",
            *zxy,
        )
        in_district = await conn.fetchval(
            f"SELECT count(*) FROM risk_units WHERE district = $4 AND {in_tile}", *zxy, district
        )
    finally:
        await conn.close()
    url = "/tiles/onemap/{}/{}/{}.mvt".format(*zxy)
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        whole = mapbox_vector_tile.decode((await client.get(url)).content)
        gas = mapbox_vector_tile.decode((await client.get(url + "?category=gas")).content)
        one = mapbox_vector_tile.decode((await client.get(f"{url}?district={district}")).content)
        sensors = await client.get(
            "/tiles/monitoring_points/{}/{}/{}.mvt?category=gas_concentration".format(*zxy)
        )
    count = {name: len(layer["features"]) for name, layer in gas.items()}
    assert 0 < count["risk_units"] == gas_units < len(whole["risk_units"]["features"])
    assert {f["properties"]["category"] for f in gas["risk_units"]["features"]} == {"gas"}
    assert count.get("lifelines", 0) == gas_lines
    for name in ("monitoring_points", "rescue_teams", "shelters", "districts"):
        assert gas[name] == whole[name], name
    assert len(one["risk_units"]["features"]) == in_district
    assert len(one["districts"]["features"]) == 1
    # alone in its tile, a free-text category field does take the filter
    kinds = mapbox_vector_tile.decode(sensors.content)["monitoring_points"]["features"]
    assert kinds and {f["properties"]["kind"] for f in kinds} == {"gas_concentration"}
