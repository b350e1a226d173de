"""The raster routes (titiler under /raster): bounded parameters, a time limit, the TileJSON
a generic client can use, and a style that names the population source only when it exists.

Every query parameter titiler exposes through onemap has a rule in
api.raster.bounds (a new one fails this file); the worst parameters each route
family accepts are answered or cut off (503), one step past them is a 400
before any work; no timing is asserted, the time limit is the service's own.
"""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import jsonschema
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from api.main import create_app
from api.raster import bounds as B
from api.settings import Settings
from api.tiles.style import RASTER_MAXZOOM, RASTER_MINZOOM
from tests.conftest import app_client, role_headers, running_app
from tests.support.tiles_city import FIXTURE

CENTRE = (14, 13150, 6530)  # a z14 tile over the fixture city's centre
TILE = "/raster/risk/tiles/WebMercatorQuad/{}/{}/{}.png".format(*CENTRE)

#: TileJSON 3.0.0 written from the specification's text (github.com/mapbox/tilejson-spec,
#: 3.0.0/README.md): required tilejson, tiles and vector_layers; zooms 0..30; WGS84 bounds
TILEJSON_3 = {
    "type": "object",
    "required": ["tilejson", "tiles", "vector_layers"],
    "properties": {
        "tilejson": {"type": "string", "pattern": r"^3\.0\.\d+$"},
        "tiles": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string", "pattern": "^https?://"},
        },
        "vector_layers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "fields"],
                "properties": {
                    "id": {"type": "string"},
                    "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    "description": {"type": "string"},
                    "minzoom": {"type": "integer", "minimum": 0, "maximum": 30},
                    "maxzoom": {"type": "integer", "minimum": 0, "maximum": 30},
                },
            },
        },
        "attribution": {"type": ["string", "null"]},
        "bounds": {
            "type": "array",
            "prefixItems": [
                {"type": "number", "minimum": -180, "maximum": 180},
                {"type": "number", "minimum": -90, "maximum": 90},
                {"type": "number", "minimum": -180, "maximum": 180},
                {"type": "number", "minimum": -90, "maximum": 90},
            ],
            "minItems": 4,
            "maxItems": 4,
        },
        "center": {"type": "array", "minItems": 3, "maxItems": 3, "items": {"type": "number"}},
        "data": {"type": "array", "items": {"type": "string"}},
        "description": {"type": "string"},
        "fillzoom": {"type": "integer", "minimum": 0, "maximum": 30},
        "grids": {"type": "array", "items": {"type": "string"}},
        "legend": {"type": "string"},
        "maxzoom": {"type": "integer", "minimum": 0, "maximum": 30},
        "minzoom": {"type": "integer", "minimum": 0, "maximum": 30},
        "name": {"type": "string"},
        "scheme": {"enum": ["xyz", "tms"]},
        "template": {"type": "string"},
        "version": {"type": "string"},
    },
}


@pytest.fixture
async def raster_db(empty_db: Settings, tmp_path: Path) -> Settings:
    """The tile fixture city, with rasters written under tmp_path."""
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await conn.execute(FIXTURE.read_text(encoding="utf-8"))
    finally:
        await conn.close()
    return empty_db.model_copy(update={"data_dir": tmp_path})


def _png(data: bytes) -> np.ndarray:
    with rasterio.MemoryFile(data) as mem, mem.open() as src:
        return src.read()


def _patient(settings: Settings) -> Settings:
    """A time limit the first build of the risk surface meets on a loaded machine."""
    return settings.model_copy(update={"raster_time_limit_s": 60.0})


def population_tiff() -> bytes:
    """A 10 x 10 population GeoTIFF over the city centre (people per cell)."""
    data = np.arange(100, dtype="float32").reshape(10, 10) * 10
    profile = {
        "driver": "GTiff", "dtype": "float32", "count": 1, "height": 10, "width": 10,
        "crs": "EPSG:4326", "transform": from_origin(108.90, 34.30, 0.01, 0.01),
    }  # fmt: skip
    buf = io.BytesIO()
    with rasterio.MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data, 1)
        buf.write(mem.read())
    return buf.getvalue()


def test_every_raster_query_parameter_has_a_bound() -> None:
    """titiler's parameters as the OpenAPI document lists them: each named in QUERY_BOUNDS,
    and the only tile matrix set is the one the map uses."""
    doc = create_app(Settings(environment="test")).openapi()
    names: set[str] = set()
    tms: set[str] = set()
    for path, ops in doc["paths"].items():
        if not path.startswith("/raster/"):
            continue
        for op in ops.values():
            for p in op.get("parameters", []):
                if p["in"] == "query":
                    names.add(p["name"])
                if p["name"] == "tileMatrixSetId":
                    schema = p["schema"]
                    tms.update(schema.get("enum") or [schema.get("const")])
    assert names, "no raster query parameters found"
    assert names <= set(B.QUERY_BOUNDS), sorted(names - set(B.QUERY_BOUNDS))
    assert tms == set(B.TILE_MATRIX_SETS) == {"WebMercatorQuad"}


#: one step past each bound: refused with 400 before any work (path, query)
PAST: list[tuple[str, dict[str, Any]]] = [
    ("/raster/risk/tiles/WorldMercatorWGS84Quad/0/0/0.png", {"padding": "1"}),
    ("/raster/risk/tiles/WebMercatorQuad/0/0/0.png", {"padding": "1"}),
    (f"/raster/population/tiles/WebMercatorQuad/{B.MIN_PADDING_ZOOM - 1}/102/51", {"padding": "1"}),
    ("/raster/risk/tiles/UTM31WGS84Quad", {"maxzoom": "27624", "f": "html"}),
    ("/raster/risk/tiles/WebMercatorQuad", {"maxzoom": str(B.MAX_ZOOM + 1)}),
    ("/raster/risk/tiles/WebMercatorQuad", {"minzoom": "5", "maxzoom": "4"}),
    (f"/raster/risk/tiles/WebMercatorQuad/{B.MAX_ZOOM + 1}/0/0.png", {}),
    ("/raster/risk/tiles/WebMercatorQuad/2/4/0.png", {}),
    (TILE, {"tilesize": "1024"}),
    (TILE, {"buffer": str(B.MAX_BUFFER_PX + 0.5)}),
    (TILE, {"padding": str(B.MAX_PADDING_PX + 1)}),
    (TILE, {"expression": "b1*" * 40 + "b1"}),
    (TILE, {"expression": "b2+b1"}),
    (TILE, {"expression": "__import__('os')"}),
    (TILE, {"bidx": "2"}),
    (TILE, {"colormap": "x" * (B.MAX_COLORMAP_BYTES + 1)}),
    (TILE, {"color_formula": "gamma " * 40}),
    (TILE, {"rescale": ["0,1"] * 5}),
    (TILE, {"rescale": "0,1,2"}),
    ("/raster/risk/statistics", {"max_size": str(B.MAX_IMAGE_PX + 1)}),
    ("/raster/risk/statistics", {"width": "100000", "height": "100000"}),
    ("/raster/risk/statistics", {"histogram_bins": str(B.MAX_BINS + 1)}),
    ("/raster/risk/statistics", {"p": ["50"] * (B.MAX_LIST + 1)}),
    ("/raster/risk/statistics", {"histogram_range": "0,1,2"}),
    ("/raster/risk/statistics", {"p": "101"}),
    ("/raster/risk/statistics", {"c": "nan"}),
    ("/raster/risk/point/108.94,34.26", {"coord_crs": "x" * (B.MAX_CRS + 1)}),
]


def _square(lon: float, lat: float, d: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


async def test_parameters_past_their_bounds_are_400_before_work(raster_db: Settings) -> None:
    """Each out-of-bounds parameter: 400 problem JSON naming it; the surface is never built."""
    viewer = (await role_headers(raster_db))["viewer"]
    from api.raster.surface import risk_surface_path

    async with app_client(raster_db, viewer) as client:
        for path, params in PAST:
            r = await client.get(path, params=params)
            assert r.status_code == 400, (path, params, r.status_code, r.text[:200])
            assert r.headers["content-type"] == "application/problem+json"
        many = {"type": "FeatureCollection",
                "features": [_square(108.9, 34.2, 0.001)] * (B.MAX_FEATURES + 1)}  # fmt: skip
        r = await client.post("/raster/risk/statistics", json=many)
        assert r.status_code == 400 and "features" in r.json()["detail"], r.text
        r = await client.post(
            "/raster/risk/statistics", json=_square(108.9, 34.2, 0.01),
            params={"cover_scale": str(B.MAX_COVER_SCALE + 1)},
        )  # fmt: skip
        assert r.status_code == 400, r.text
        big = {"type": "Feature", "properties": {"pad": "x" * B.MAX_BODY_BYTES},
               "geometry": _square(108.9, 34.2, 0.01)["geometry"]}  # fmt: skip
        r = await client.post("/raster/risk/statistics", json=big)
        assert r.status_code == 413, r.text
        # the request's budget: pixels read over all features, then coverage cells
        two = {"type": "FeatureCollection", "features": [_square(108.9, 34.2, 0.01)] * 2}
        three = {"type": "FeatureCollection", "features": [_square(108.9, 34.2, 0.01)] * 3}
        r = await client.post(
            "/raster/risk/statistics",
            json=three,
            params={"max_size": str(B.MAX_IMAGE_PX), "cover_scale": "1"},
        )
        assert r.status_code == 400 and "max_size=836" in r.json()["detail"], r.text
        r = await client.post(
            "/raster/risk/statistics",
            json=two,
            params={"max_size": str(B.MAX_IMAGE_PX), "cover_scale": "6"},
        )
        assert r.status_code == 400 and "cover_scale=4" in r.json()["detail"], r.text
        # titiler's default reads each feature at full resolution; onemap's is 128 pixels,
        # so the most features at the default cover_scale fit the budget
        most = {"type": "FeatureCollection",
                "features": [_square(108.9, 34.2, 0.01)] * B.MAX_FEATURES}  # fmt: skip
        r = await client.post("/raster/risk/statistics", json=most, params={"cover_scale": "12"})
        assert r.status_code == 400 and "cover_scale=" in r.json()["detail"], r.text
        assert B.MAX_FEATURES * B.DEFAULT_PART_PX**2 * B.DEFAULT_COVER_SCALE**2 <= (
            B.MAX_COVER_CELLS
        )
    assert not risk_surface_path(raster_db).exists()  # nothing was worth building it for


#: the worst each route family accepts: answered, or cut off by the time limit (503)
WORST: list[tuple[str, str, dict[str, Any], Any]] = [
    ("GET", "/raster/risk/tiles/WebMercatorQuad/0/0/0.png",
     {"tilesize": "512", "buffer": str(B.MAX_BUFFER_PX),
      "resampling": "cubic_spline", "reproject": "lanczos",
      "expression": "((b1+1)*(b1+2)-(b1*3))/((b1+4)*(b1+5))+b1*b1*b1-b1/7+b1*0.5",
      "rescale": "0,1", "colormap_name": "onemap_risk"}, None),
    ("GET", f"/raster/risk/tiles/WebMercatorQuad/{B.MIN_PADDING_ZOOM}/"
            f"{13150 >> (14 - B.MIN_PADDING_ZOOM)}/{6530 >> (14 - B.MIN_PADDING_ZOOM)}.png",
     {"tilesize": "512", "buffer": str(B.MAX_BUFFER_PX), "padding": str(B.MAX_PADDING_PX),
      "resampling": "cubic_spline", "reproject": "lanczos",
      "expression": "((b1+1)*(b1+2)-(b1*3))/((b1+4)*(b1+5))+b1*b1*b1-b1/7+b1*0.5",
      "rescale": "0,1", "colormap_name": "onemap_risk"}, None),
    ("GET", "/raster/risk/tiles/WebMercatorQuad", {"minzoom": "0", "maxzoom": str(B.MAX_ZOOM),
                                                   "f": "html"}, None),
    ("GET", "/raster/risk/tiles", {"f": "html"}, None),
    ("GET", "/raster/risk/statistics",
     {"max_size": str(B.MAX_IMAGE_PX), "histogram_bins": str(B.MAX_BINS),
      "p": [str(i) for i in range(B.MAX_LIST)], "resampling": "cubic_spline"}, None),
    ("GET", "/raster/risk/statistics", {"width": str(B.MAX_IMAGE_PX),
                                        "height": str(B.MAX_IMAGE_PX)}, None),
    # the budget's corners: the most pixels read (2 x 1024²) with the most coverage cells
    # it allows, and the most features at onemap's default size and cover_scale
    ("POST", "/raster/risk/statistics", {"max_size": str(B.MAX_IMAGE_PX), "cover_scale": "4"},
     {"type": "FeatureCollection",
      "features": [_square(108.60 + 0.3 * i, 33.95, 0.6) for i in range(2)]}),
    ("POST", "/raster/risk/statistics", {},
     {"type": "FeatureCollection",
      "features": [_square(108.60 + 0.012 * i, 33.95, 0.6) for i in range(B.MAX_FEATURES)]}),
    ("GET", "/raster/risk/info.geojson", {}, None),
    ("GET", "/raster/risk/point/108.94,34.26", {"coord_crs": "EPSG:4326"}, None),
    ("GET", "/raster/risk/WebMercatorQuad/tilejson.json", {}, None),
]  # fmt: skip


async def test_worst_accepted_parameters_are_answered_or_cut_off(raster_db: Settings) -> None:
    """The heaviest request of each family: a 200, or a 503 from the time limit; never a 5xx
    of another kind, never a hang (the time limit is the service's default, 1 s)."""
    viewer = (await role_headers(raster_db))["viewer"]
    async with app_client(_patient(raster_db), viewer) as client:
        assert (await client.get(TILE)).status_code == 200  # the surface, built once
    settings = raster_db.model_copy(
        update={"raster_time_limit_s": Settings.model_fields["raster_time_limit_s"].default}
    )
    assert settings.raster_time_limit_s == 1.0
    async with app_client(settings, viewer) as client:
        for method, path, params, body in WORST:
            r = await client.request(method, path, params=params, json=body)
            assert r.status_code in (200, 503), (path, params, r.status_code, r.text[:300])
            if r.status_code == 503:
                assert "time limit" in r.json()["detail"] and r.headers["retry-after"]


async def test_time_limit_answers_503(raster_db: Settings) -> None:
    """A raster request still running at raster_time_limit_s is cut off with 503 problem JSON."""
    viewer = (await role_headers(raster_db))["viewer"]
    async with app_client(_patient(raster_db), viewer) as client:
        assert (await client.get(TILE)).status_code == 200  # the surface exists from here on
    tight = raster_db.model_copy(update={"raster_time_limit_s": 1e-6})
    async with app_client(tight, viewer) as client:
        for path in (TILE, "/raster/risk/statistics", "/raster/risk/info"):
            r = await client.get(path)
            assert r.status_code == 503, (path, r.status_code, r.text[:200])
            assert r.headers["content-type"] == "application/problem+json"
            assert "time limit" in r.json()["detail"]
            assert r.headers["retry-after"] == "5"


async def test_work_cut_off_keeps_its_place_until_it_ends(raster_db: Settings) -> None:
    """Work past the time limit cannot pile up: a request answered 503 holds its place (one
    of `raster_workers`) until its thread has really finished, and a request that finds no
    place within `raster_queue_s` is a 503 that starts no work. The surface is built before
    the clock starts (a first request does not spend its limit on it)."""
    from api.raster.surface import risk_surface_path

    viewer = (await role_headers(raster_db))["viewer"]
    tight = raster_db.model_copy(
        update={"raster_time_limit_s": 1e-6, "raster_workers": 1, "raster_queue_s": 0.0}
    )
    async with running_app(tight) as app:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", headers=viewer
        ) as client:
            r = await client.get(TILE)
            assert r.status_code == 503 and "time limit" in r.json()["detail"], r.text
            assert risk_surface_path(raster_db).is_file()  # built, outside the limit
            slots = app.state.raster_slots
            assert slots.locked()  # the cut-off tile is still at work, in its place
            busy = await client.get("/raster/risk/info")
            assert busy.status_code == 503 and "stayed taken" in busy.json()["detail"], busy.text
            for _ in range(600):  # its (bounded) work ends, and the place is given back
                if not slots.locked():
                    break
                await asyncio.sleep(0.05)
            assert not slots.locked()


async def test_raster_tilejson_renders_like_the_map(raster_db: Settings) -> None:
    """TileJSON 3.0 (valid against the spec's schema), the style's tile URL (colormap and
    rescale), the style's zooms; a client following it gets the map's coloured tiles."""
    viewer = (await role_headers(raster_db))["viewer"]
    async with app_client(raster_db, viewer) as client:
        tj = (await client.get("/raster/risk/WebMercatorQuad/tilejson.json")).json()
        style = (await client.get("/styles/onemap.json")).json()
        z, x, y = CENTRE
        url = tj["tiles"][0].format(z=z, x=x, y=y).removeprefix("http://testserver")
        from_tilejson = await client.get(url)
        source = style["sources"]["risk_surface"]
        from_style = await client.get(
            source["tiles"][0].format(z=z, x=x, y=y).removeprefix("http://testserver")
        )
    jsonschema.validate(tj, TILEJSON_3)
    assert tj["tiles"] == source["tiles"]
    assert "colormap_name=onemap_risk" in tj["tiles"][0] and "rescale=0,1" in tj["tiles"][0]
    assert (tj["minzoom"], tj["maxzoom"]) == (source["minzoom"], source["maxzoom"])
    assert (tj["minzoom"], tj["maxzoom"]) == (RASTER_MINZOOM, RASTER_MAXZOOM)
    west, south, east, north = tj["bounds"]
    assert west < 108.94 < east and south < 34.26 < north
    assert from_tilejson.status_code == 200
    assert from_tilejson.content == from_style.content
    rgba = _png(from_tilejson.content)
    colours = {tuple(px) for px in rgba.reshape(4, -1).T if px[3] > 0}
    assert len(colours) > 10  # a colour ramp, not a one-value image


async def test_style_names_the_population_source_only_when_it_exists(raster_db: Settings) -> None:
    """Before an import: no population source or layer (every tile would 404); after: both,
    and the source's tiles answer."""
    headers = await role_headers(raster_db)
    async with app_client(raster_db, headers["viewer"]) as client:
        before = (await client.get("/styles/onemap.json")).json()
        created = await client.post(
            "/raster/population", headers=headers["editor"],
            files={"file": ("pop.tif", population_tiff(), "image/tiff")},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        after = (await client.get("/styles/onemap.json")).json()
        tile = after["sources"]["population"]["tiles"][0].format(z=12, x=3287, y=1632)
        r = await client.get(tile.removeprefix("http://testserver"))
    assert "population" not in before["sources"]
    assert all(layer.get("source") != "population" for layer in before["layers"])
    assert {layer.get("source") for layer in before["layers"]} - {None} == set(before["sources"])
    assert "population" in after["sources"]
    assert any(layer.get("source") == "population" for layer in after["layers"])
    assert r.status_code == 200 and _png(r.content)[3].max() > 0
