"""TileJSON 3.0 and the MapLibre style: URLs behind a proxy, layers, four risk colours."""

from __future__ import annotations

from api.settings import Settings
from api.tiles.spec import SPECS, composite_layers
from api.tiles.style import LEVEL_HEX
from tests.conftest import app_client, role_headers


async def test_tilejson_for_a_layer_and_the_composite(empty_db: Settings) -> None:
    """tilejson 3.0.0, the tile URL (filters carried), vector_layers with their fields."""
    headers = (await role_headers(empty_db))["viewer"]
    async with app_client(empty_db, headers) as client:
        one = (await client.get("/tiles/risk_units/tilejson.json?level=major,large")).json()
        comp = (await client.get("/tiles/onemap/tilejson.json")).json()
        dup = (await client.get("/tiles/risk_units,risk_units/tilejson.json")).json()
        bad = await client.get("/tiles/risk_units/tilejson.json?level=nope")
    assert one["tilejson"] == "3.0.0"
    assert one["tiles"] == [
        "http://testserver/tiles/risk_units/{z}/{x}/{y}.mvt?level=large%2Cmajor"
    ]
    assert [v["id"] for v in one["vector_layers"]] == ["risk_units"]
    assert one["vector_layers"][0]["fields"].keys() == {
        "code",
        "name",
        "current_level",
        "category",
        "count",
    }
    assert one["maxzoom"] == empty_db.tile_max_zoom
    assert one["bounds"] == list(empty_db.city_bbox)
    assert comp["tiles"] == ["http://testserver/tiles/onemap/{z}/{x}/{y}.mvt"]
    assert [v["id"] for v in comp["vector_layers"]] == list(composite_layers(24))
    zooms = {v["id"]: v["minzoom"] for v in comp["vector_layers"]}
    assert zooms["monitoring_points"] == SPECS["monitoring_points"].composite_minzoom
    assert dup["tiles"] == ["http://testserver/tiles/risk_units/{z}/{x}/{y}.mvt"]
    assert bad.status_code == 400


async def test_urls_behind_a_reverse_proxy(empty_db: Settings) -> None:
    """X-Forwarded-Proto/Host/Prefix shape every URL; root_path when no prefix is forwarded."""
    headers = (await role_headers(empty_db))["viewer"]
    proxy = {
        **headers,
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Host": "maps.example.org",
        "X-Forwarded-Prefix": "/onemap",
    }
    async with app_client(empty_db, proxy) as client:
        tj = (await client.get("/tiles/onemap/tilejson.json")).json()
        style = (await client.get("/styles/onemap.json")).json()
        junk = (
            await client.get(
                "/tiles/onemap/tilejson.json",
                headers={"X-Forwarded-Host": "evil.org/x?", "X-Forwarded-Proto": "gopher"},
            )
        ).json()
    assert tj["tiles"] == ["https://maps.example.org/onemap/tiles/onemap/{z}/{x}/{y}.mvt"]
    assert style["sources"]["onemap"]["url"] == (
        "https://maps.example.org/onemap/tiles/onemap/tilejson.json"
    )
    assert style["sources"]["risk_surface"]["tiles"][0].startswith(
        "https://maps.example.org/onemap/raster/risk/tiles/WebMercatorQuad/{z}/{x}/{y}.png?"
    )
    assert junk["tiles"][0].startswith("http://testserver/onemap/tiles/")
    rooted = empty_db.model_copy(update={"root_path": "/gis"})
    async with app_client(rooted, headers) as client:
        tj = (await client.get("/tiles/onemap/tilejson.json")).json()
    assert tj["tiles"] == ["http://testserver/gis/tiles/onemap/{z}/{x}/{y}.mvt"]


async def test_style_has_four_colours_and_a_layer_for_every_source(empty_db: Settings) -> None:
    """Risk units coloured major red, large orange, general yellow, low blue; sources all used."""
    headers = (await role_headers(empty_db))["viewer"]
    async with app_client(empty_db, headers) as client:
        style = (await client.get("/styles/onemap.json")).json()
    assert style["version"] == 8
    layers = {layer["id"]: layer for layer in style["layers"]}
    colour = layers["risk_units-points"]["paint"]["circle-color"]
    assert colour[:2] == ["match", ["get", "current_level"]]
    pairs = dict(zip(colour[2:-1:2], colour[3:-1:2], strict=True))
    assert pairs == LEVEL_HEX
    assert LEVEL_HEX == {
        "major": "#e53935",
        "large": "#fb8c00",
        "general": "#fdd835",
        "low": "#1e88e5",
    }
    used = {layer.get("source") for layer in style["layers"]} - {None}
    assert used == set(style["sources"])
    source_layers = {
        layer["source-layer"] for layer in style["layers"] if layer.get("source") == "onemap"
    }
    assert source_layers == set(composite_layers(24))
    assert layers["risk-surface"]["type"] == "raster"
