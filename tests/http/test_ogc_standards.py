"""OGC API Features as outside clients see it: limit past the maximum, trailing slashes,
schemas with geometry types, antimeridian boxes, RFC 7946 winding, warnings, ogctests, ogr2ogr.
"""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from jsonschema import Draft202012Validator
from shapely.geometry import shape

from api.layers import LAYERS
from api.queries.ogc_schema import QUERYABLES_REL, SCHEMA_REL
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import app_client, role_headers
from tests.support.liveserver import live_server
from tests.support.tools import require

BASE = "http://testserver/ogc"
FORMATS = {
    "point": "geometry-point",
    "line": "geometry-multilinestring",
    "area": "geometry-multipolygon",
    "point_or_area": "geometry-any",
}
#: what GDAL's GeoPackage driver must declare for each kind of layer
GPKG_TYPES = {
    "point": "POINT",
    "line": "MULTILINESTRING",
    "area": "MULTIPOLYGON",
    "point_or_area": "GEOMETRY",
}
GPKG_GEOMETRY_COLUMNS = "SELECT table_name, geometry_type_name FROM gpkg_geometry_columns"
AREA_LAYERS = [n for n, lyr in LAYERS.items() if lyr.geometry in ("area", "point_or_area")]


#: what the demo city lacks, so that every collection has features: an alarm, a weather warning
#: stored clockwise, a citywide special period (no geometry) and one with an area
FILL = """
INSERT INTO alarms (code, name, point_id, episode, level, value, started_at, source, geom)
SELECT 'AL-T1', 'test alarm', id, 'ep-1', 2, 1.0, now(), 'test', geom
  FROM monitoring_points ORDER BY id LIMIT 1;
INSERT INTO weather_warnings (code, name, type, colour, valid_from, valid_to, source, geom)
VALUES ('WW-T1', 'test rainstorm', 'rainstorm', 'orange', now(), now() + interval '1 day', 'test',
        ST_Multi(ST_GeomFromText(
          'POLYGON((108.9 34.2,108.9 34.3,109.0 34.3,109.0 34.2,108.9 34.2))', 4326)));
INSERT INTO special_periods (code, name, starts_at, ends_at, source, geom)
VALUES ('SP-T2', 'festival', now(), now() + interval '1 day', 'test', ST_Multi(ST_GeomFromText(
          'POLYGON((108.93 34.25,108.93 34.27,108.96 34.27,108.96 34.25,108.93 34.25))', 4326)));
"""
#: a citywide period: a feature without geometry (RFC 7946 §3.2). Not in the ogctests run:
#: ogctests 0.1.15 validates features against a copy of OGC's schema that drops `nullable`
CITYWIDE = """
INSERT INTO special_periods (code, name, starts_at, ends_at, source, geom)
VALUES ('SP-T1', 'citywide', now(), now() + interval '2 days', 'test', NULL);
"""


@pytest.fixture
async def every_layer_db(demo_db: Settings) -> Settings:
    """A copy of the demo city in which every collection has features."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await conn.execute(FILL)
        empty = [n for n in LAYERS if not await conn.fetchval(f'SELECT count(*) FROM "{n}"')]
    finally:
        await conn.close()
    assert empty == []
    return demo_db


async def _json(client: httpx.AsyncClient, url: str) -> Any:
    r = await client.get(url)
    assert r.status_code == 200, (url, r.status_code, r.text)
    return r.json()


# ---------------------------------------------------------------- item 1: limit


async def test_limit_above_the_maximum_is_served_as_the_maximum(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """17-069r4 /req/core/fc-limit-response-1: no 400; the maximum, and the next link says so."""
    small = city_db.model_copy(update={"ogc_max_limit": 3, "ogc_default_limit": 2})
    async with app_client(small, city_headers["viewer"]) as client:
        page = await _json(client, "/ogc/collections/shelters/items?limit=50")
        assert [f["id"] for f in page["features"]] == ["S1", "S2", "S3"]
        assert (page["numberMatched"], page["numberReturned"]) == (4, 3)
        links = {link["rel"]: link["href"] for link in page["links"]}
        assert links["next"] == f"{BASE}/collections/shelters/items?offset=3&limit=3"
        rest = await _json(client, links["next"].removeprefix("http://testserver"))
        assert [f["id"] for f in rest["features"]] == ["S4"]
        default = await _json(client, "/ogc/collections/shelters/items")
        assert default["numberReturned"] == 2
        assert {link["rel"]: link["href"] for link in default["links"]}["next"] == (
            f"{BASE}/collections/shelters/items?offset=2&limit=2"
        )
        doc = await _json(client, "/ogc/api")
    limit = doc["components"]["parameters"]["limit"]
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 3, "default": 2}
    assert "served as 3" in limit["description"]
    async with app_client(city_db, city_headers["viewer"]) as client:
        big = await _json(client, "/ogc/collections/shelters/items?limit=10001")
        assert big["numberReturned"] == 4
        assert city_db.ogc_default_limit >= 1000  # GDAL >= 3.8 pages by it: few requests


# ---------------------------------------------------------------- item 4: trailing slashes


@pytest.mark.parametrize(
    "path",
    [
        "/ogc",
        "/ogc/api",
        "/ogc/conformance",
        "/ogc/collections",
        "/ogc/collections/shelters",
        "/ogc/collections/shelters/schema",
        "/ogc/collections/shelters/queryables",
        "/ogc/collections/shelters/feature-schema",
        "/ogc/collections/shelters/items",
        "/ogc/collections/shelters/items/S1",
    ],
)
async def test_both_slash_forms_answer_200(
    city_db: Settings, city_headers: dict[str, dict[str, str]], path: str
) -> None:
    """`/ogc/` and `/ogc` alike: the same document, no redirect."""
    async with app_client(city_db, city_headers["viewer"]) as client:
        bare = await client.get(path)
        slash = await client.get(f"{path}/")
    assert (bare.status_code, slash.status_code) == (200, 200), slash.headers
    assert bare.headers["content-type"] == slash.headers["content-type"]

    def same(doc: dict[str, Any]) -> dict[str, Any]:
        doc.pop("timeStamp", None)
        doc["links"] = [link for link in doc.get("links", []) if link["rel"] != "self"]
        return doc

    assert same(bare.json()) == same(slash.json())


# ---------------------------------------------------------------- item 2: schema


async def test_each_collection_publishes_its_geometry_type(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """Part 5 schema and Part 3 queryables: typed properties, roles, the geometry's type; the
    features served validate against the schema."""
    async with app_client(city_db, city_headers["viewer"]) as client:
        for name, layer in LAYERS.items():
            coll = await _json(client, f"/ogc/collections/{name}")
            links = {link["rel"]: link for link in coll["links"]}
            href = f"{BASE}/collections/{name}"
            assert links[SCHEMA_REL]["href"] == f"{href}/schema"
            assert links[QUERYABLES_REL]["href"] == f"{href}/queryables"
            assert links["describedby"]["href"] == f"{href}/feature-schema"
            for rel in (SCHEMA_REL, QUERYABLES_REL, "describedby"):
                assert links[rel]["type"] == "application/schema+json"
            r = await client.get(f"/ogc/collections/{name}/schema")
            assert r.headers["content-type"] == "application/schema+json"
            schema = r.json()
            Draft202012Validator.check_schema(schema)
            geom = schema["properties"]["geometry"]
            assert geom["x-ogc-role"] == "primary-geometry"
            assert geom["format"] == FORMATS[layer.geometry], name
            assert schema["properties"]["code"]["x-ogc-role"] == "id"
            assert schema["properties"][layer.time_field]["x-ogc-role"] == "primary-instant"
            queryables = await _json(client, f"/ogc/collections/{name}/queryables")
            Draft202012Validator.check_schema(queryables)
            assert set(queryables["properties"]) == {*layer.field_map, "geometry"}
            described = await _json(client, f"/ogc/collections/{name}/feature-schema")
            assert set(described["properties"]["properties"]["properties"]) == set(layer.field_map)
            validator = Draft202012Validator(schema)
            page = await _json(client, f"/ogc/collections/{name}/items?limit=10000")
            for feature in page["features"]:
                flat = {**feature["properties"], "geometry": feature["geometry"]}
                errors = [e.message for e in validator.iter_errors(flat)]
                assert errors == [], (name, feature["id"], errors)
        mixed = await _json(client, "/ogc/collections/risk_units/schema")
        shelters = await _json(client, "/ogc/collections/shelters/schema")
    assert mixed["properties"]["geometry"]["oneOf"] == [
        {"$ref": "#/$defs/Point"},
        {"$ref": "#/$defs/MultiPolygon"},
    ]
    assert set(mixed["$defs"]) == {"Point", "MultiPolygon"}
    assert shelters["properties"]["capacity"]["type"] == "integer"
    assert shelters["properties"]["updated_at"]["format"] == "date-time"
    # a point where the schema says otherwise fails: the check is real
    point_only = Draft202012Validator(_point_layer_schema())
    bad = {
        "geometry": {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]}
    }
    assert list(point_only.iter_errors(bad))


def _point_layer_schema() -> dict[str, Any]:
    """The schema of a point layer (for the negative check above)."""
    from api.queries.ogc_schema import returnables

    return returnables(LAYERS["broadcasts"], "urn:test")


async def test_a_mixed_layer_shows_both_kinds_on_every_page(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """Points and areas in turn, so a client typing the layer by its first page (GDAL) makes a
    layer accepting both; paging still returns every feature exactly once."""
    async with app_client(city_db, city_headers["viewer"]) as client:
        first = await _json(client, "/ogc/collections/risk_units/items?limit=2")
        assert {f["geometry"]["type"] for f in first["features"]} == {"Point", "MultiPolygon"}
        everything = await _json(client, "/ogc/collections/risk_units/items?limit=10000")
        seen: list[str] = []
        url = "/ogc/collections/risk_units/items?limit=2"
        while url:
            page = await _json(client, url)
            seen += [f["id"] for f in page["features"]]
            nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
            url = nxt[0].removeprefix("http://testserver") if nxt else ""
    assert sorted(seen) == sorted(f["id"] for f in everything["features"])
    assert len(seen) == len(set(seen)) == everything["numberMatched"]


# ---------------------------------------------------------------- item 6: antimeridian


@pytest.mark.parametrize("url", ["/layers/shelters/features", "/ogc/collections/shelters/items"])
async def test_a_bbox_across_the_antimeridian_is_two_boxes(
    city_db: Settings, city_headers: dict[str, dict[str, str]], url: str
) -> None:
    """minLon > maxLon: the box from minLon east to 180 plus the one from -180 to maxLon."""

    async def codes(client: httpx.AsyncClient, bbox: str) -> list[str]:
        body = await _json(client, f"{url}?bbox={bbox}&limit=100")
        return [f["id"] for f in body["features"]]

    async with app_client(city_db, city_headers["viewer"]) as client:
        assert await codes(client, "100,30,-170,40") == ["S1", "S2", "S3", "S4"]
        assert await codes(client, "170,30,-170,40") == []
        west = await codes(client, "-180,30,108.92,40")
        assert west and len(west) < 4
        assert await codes(client, "170,30,108.92,40") == west
        east = await codes(client, "108.92,30,180,40")
        assert await codes(client, "108.92,30,-179,40") == east
        r = await client.get(f"{url}?bbox=170,40,-170,30")
    assert r.status_code == 400 and "minLat 40.0 is greater than maxLat 30.0" in r.text


# ---------------------------------------------------------------- item 12: no warning per request


async def test_an_antimeridian_bbox_in_a_body_writes_no_warning(
    city_db: Settings,
    city_headers: dict[str, dict[str, str]],
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Raster statistics with GeoJSON `bbox` members crossing the antimeridian: answered, and no
    warning or log line, however many distinct boxes a client sends."""
    settings = city_db.model_copy(update={"data_dir": tmp_path})
    ring = [[108.9, 34.24], [108.92, 34.24], [108.92, 34.26], [108.9, 34.26], [108.9, 34.24]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with app_client(settings, city_headers["viewer"]) as client:
            for i in range(5):
                box = [170.0 + i, 30.0, -170.0 - i, 40.0]
                feature = {
                    "type": "Feature",
                    "bbox": box,
                    "properties": {},
                    "geometry": {"type": "Polygon", "coordinates": [ring], "bbox": box},
                }
                r = await client.post("/raster/risk/statistics", json=feature)
                assert r.status_code == 200, r.text
                assert r.json()["properties"]["statistics"]
            collection = {"type": "FeatureCollection", "bbox": box, "features": [feature]}
            r = await client.post("/raster/risk/statistics", json=collection)
            assert r.status_code == 200, r.text
            for bbox in ("179.5,-90,-179.5,90", "180,0,-180,1", "1e-9,0,-1e-9,0,5", "9,9,-9,-9"):
                for url in ("/layers/shelters/features", "/ogc/collections/shelters/items"):
                    r = await client.get(url, params={"bbox": bbox})
                    assert r.status_code in (200, 400), (url, bbox, r.text)
    about_boxes = [str(w.message) for w in caught if "BBOX" in str(w.message).upper()]
    assert about_boxes == []
    assert [w for w in caught if "geojson_pydantic" in w.filename] == []
    assert [rec.getMessage() for rec in caplog.records if "ntimeridian" in rec.getMessage()] == []
    assert [rec.getMessage() for rec in caplog.records if rec.levelno >= logging.WARNING] == []


# ---------------------------------------------------------------- item 3: winding


def _clockwise_rings(geometry: dict[str, Any] | None) -> int:
    """Outer rings that are clockwise plus holes that are counter-clockwise (RFC 7946 §3.1.6)."""
    if geometry is None or geometry["type"] not in ("Polygon", "MultiPolygon"):
        return 0
    geom = shape(geometry)
    bad = 0
    for poly in getattr(geom, "geoms", [geom]):
        bad += not poly.exterior.is_ccw
        bad += sum(ring.is_ccw for ring in poly.interiors)
    return bad


def _areas(features: list[dict[str, Any]]) -> int:
    return sum(1 for f in features if f["geometry"] and f["geometry"]["type"].endswith("Polygon"))


async def test_every_geojson_output_winds_counter_clockwise(every_layer_db: Settings) -> None:
    """Every area layer of the demo city (stored with some clockwise rings) comes out with CCW
    outer rings and CW holes: features, OGC items, single units, events, analysis results."""
    settings = every_layer_db
    headers = await role_headers(settings)
    conn = await asyncpg.connect(settings.database_url)
    try:
        stored_cw = await conn.fetchval(
            "SELECT count(*) FROM districts WHERE NOT ST_IsPolygonCCW(geom)"
        )
        unit = await conn.fetchval(
            "SELECT code FROM risk_units WHERE GeometryType(geom) = 'MULTIPOLYGON' "
            "AND NOT ST_IsPolygonCCW(geom) ORDER BY code LIMIT 1"
        )
        shelter_area = await conn.fetchrow(
            "SELECT ST_X(ST_PointOnSurface(geom)) AS x, ST_Y(ST_PointOnSurface(geom)) AS y "
            "FROM shelters WHERE GeometryType(geom) = 'MULTIPOLYGON' "
            "AND NOT ST_IsPolygonCCW(geom) ORDER BY code LIMIT 1"
        )
        with_areas = {
            n
            for n in AREA_LAYERS
            if await conn.fetchval(
                f"SELECT count(*) FROM \"{n}\" WHERE GeometryType(geom) = 'MULTIPOLYGON'"
            )
        }
    finally:
        await conn.close()
    assert stored_cw > 0 and unit is not None and shelter_area is not None
    assert with_areas >= {"districts", "risk_units", "shelters", "weather_warnings"}
    async with app_client(settings, headers["analyst"]) as client:
        for name in AREA_LAYERS:
            for url in (
                f"/ogc/collections/{name}/items?limit=10000",
                f"/layers/{name}/features?limit=10000",
            ):
                body = await _json(client, url)
                features = body["features"]
                assert _areas(features) > 0 or name not in with_areas, url
                assert [f["id"] for f in features if _clockwise_rings(f["geometry"])] == [], url
        one = await _json(client, f"/risk-units/{unit}")
        assert one["geometry"]["type"] == "MultiPolygon" and _clockwise_rings(one["geometry"]) == 0
        ogc_one = await _json(client, f"/ogc/collections/risk_units/items/{unit}")
        assert _clockwise_rings(ogc_one["geometry"]) == 0
        for url in ("/weather-warnings", "/special-periods"):
            events = _geometries(await _json(client, url))
            assert events and [g for g in events if _clockwise_rings(g)] == [], url
        point = [shelter_area["x"], shelter_area["y"]]
        results: list[dict[str, Any]] = []
        for path, body in (
            ("/analysis/buffer", {"point": point, "distance_m": 300}),
            ("/analysis/impact", {"point": point, "radius_m": 800}),
            ("/analysis/coverage", {"distance_m": 1000, "include_geometry": True}),
            ("/analysis/overlay", {"layer": "districts", "geometry": _box_around(point)}),
        ):
            r = await client.post(path, json=body)
            assert r.status_code == 200, (path, r.text)
            results += _geometries(r.json())
    polygons = [g for g in results if g and g["type"].endswith("Polygon")]
    assert len(polygons) > 5
    assert [g for g in polygons if _clockwise_rings(g)] == []


def _box_around(point: list[float], d: float = 0.01) -> dict[str, Any]:
    x, y = point
    ring = [[x - d, y - d], [x + d, y - d], [x + d, y + d], [x - d, y + d], [x - d, y - d]]
    return {"type": "Polygon", "coordinates": [ring]}


def _geometries(doc: Any) -> list[dict[str, Any]]:
    """Every GeoJSON geometry anywhere in an answer."""
    out: list[dict[str, Any]] = []
    stack = [doc]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") in ("Polygon", "MultiPolygon", "Point") and "coordinates" in node:
                out.append(node)
                continue
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return out


# ---------------------------------------------------------------- ogctests (PyPI)

OGCTESTS = """
import sys

import httpx
from ogctests.main import run_ogctests

url, key, flags = sys.argv[1], sys.argv[2], sys.argv[3:]
headers = {"X-API-Key": key}
plain_get = httpx.get


def get(href, *args, **kwargs):
    # ogctests reads the API definition with httpx.get: it must carry the credential too
    kwargs["headers"] = {**headers, **(kwargs.get("headers") or {})}
    return plain_get(href, *args, **kwargs)


httpx.get = get
client = httpx.Client(base_url=url, headers=headers, follow_redirects=False)
sys.exit(run_ogctests("features/core", instance_url=url, flags=flags, test_client=client))
"""


OGCTESTS_VENV = PROJECT_ROOT / ".venv-ogctests"
#: the conformance runner under test; it pins httpx < 0.28 and pytest < 9, so it lives in its
#: own virtualenv (its pins never touch ours), made from PyPI on first use
OGCTESTS_PIN = "ogctests==0.1.15"


def ensure_ogctests() -> Path:
    """The python of a virtualenv holding `ogctests` (created and installed when missing)."""
    python = OGCTESTS_VENV / "bin" / "python"
    probe = [str(python), "-c", "import ogctests.main"]
    if not python.exists() or subprocess.run(probe, capture_output=True).returncode:
        subprocess.run([sys.executable, "-m", "venv", str(OGCTESTS_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", OGCTESTS_PIN], check=True, timeout=900
        )
    return python


@pytest.mark.timeout(1800)  # its first run builds the virtualenv from PyPI
def test_ogctests_conformance_runner_passes(every_layer_db: Settings, tmp_path: Path) -> None:
    """The `ogctests` runner's features/core suite, against uvicorn, with a key, no redirects."""
    python = ensure_ogctests()
    key = _viewer_key(every_layer_db)
    (tmp_path / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    ini = tmp_path / "pytest.ini"
    flags = ["-c", str(ini), "--rootdir", str(tmp_path), "-p", "no:cacheprovider", "-q", "-rfEw"]
    with live_server(every_layer_db) as base:
        run = subprocess.run(
            [str(python), "-c", OGCTESTS, f"{base}/ogc", key, *flags],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )  # fmt: skip
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-6000:]
    assert " passed" in out and " failed" not in out and " error" not in out, out[-3000:]


# ---------------------------------------------------------------- ogr2ogr -> GeoPackage


@pytest.mark.timeout(1800)
def test_ogr2ogr_copies_every_collection_to_a_conformant_geopackage(
    every_layer_db: Settings, tmp_path: Path
) -> None:
    """Every collection of the demo city into one GeoPackage: the layer types GDAL creates match
    the geometries (GEOMETRY for a layer of points and areas), GDAL's own validator finds nothing,
    and the counts are the database's."""
    ogr2ogr = require("ogr2ogr", "gdal-bin")
    validator = _validate_gpkg_script()
    _execute(every_layer_db, CITYWIDE)
    key = _viewer_key(every_layer_db)
    auth = ["--config", "GDAL_HTTP_HEADERS", f"X-API-Key: {key}"]
    out = tmp_path / "onemap.gpkg"
    mixed = tmp_path / "first-pages.gpkg"
    with live_server(every_layer_db) as base:
        copy = subprocess.run(
            [ogr2ogr, *auth, "-oo", "PAGE_SIZE=10000", "-f", "GPKG", str(out), f"OAPIF:{base}/ogc"],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        # GDAL's default page (10 features) types each layer by its first page
        first = subprocess.run(
            [ogr2ogr, *auth, "-f", "GPKG", "-limit", "40", str(mixed), f"OAPIF:{base}/ogc",
             "risk_units", "shelters"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
    assert copy.returncode == 0, copy.stderr
    assert "GeoPackage specification" not in copy.stderr, copy.stderr
    assert first.returncode == 0 and "GeoPackage specification" not in first.stderr, first.stderr
    for path in (out, mixed):
        check = subprocess.run(
            ["/usr/bin/python3", str(validator), str(path)], capture_output=True, text=True
        )
        assert check.returncode == 0 and check.stdout + check.stderr == "", check.stdout
    with sqlite3.connect(out) as db:
        declared = dict(
            db.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns")
        )
        counts = {n: db.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in declared}
    stored = _db_geometry_types(every_layer_db)
    assert stored["risk_units"] == stored["shelters"] == {"POINT", "MULTIPOLYGON"}
    # a layer of points and areas is GEOMETRY; one type stored (or registered) is that type
    want = {n: "GEOMETRY" if len(t) > 1 else t.pop() for n, t in stored.items() if t}
    assert declared == {n: want.get(n, GPKG_TYPES[lyr.geometry]) for n, lyr in LAYERS.items()}
    with sqlite3.connect(mixed) as db:
        first_types = dict(
            db.execute("SELECT table_name, geometry_type_name FROM gpkg_geometry_columns")
        )
    assert first_types == {"risk_units": "GEOMETRY", "shelters": "GEOMETRY"}
    assert counts == _db_counts(every_layer_db)
    assert counts["monitoring_points"] == 22_067 + 1_608  # with the hydrants on the roads


def _execute(settings: Settings, sql: str) -> None:
    """Run SQL in that database."""
    import asyncio

    async def run() -> None:
        conn = await asyncpg.connect(settings.database_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def _viewer_key(settings: Settings) -> str:
    """A fresh viewer API key in that database."""
    import asyncio

    return asyncio.run(role_headers(settings))["viewer"]["X-API-Key"]


def _db_geometry_types(settings: Settings) -> dict[str, set[str]]:
    """The PostGIS geometry types each layer really holds."""
    import asyncio

    async def run() -> dict[str, set[str]]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            sql = 'SELECT DISTINCT GeometryType(geom) FROM "{}" WHERE geom IS NOT NULL'
            return {n: {r[0] for r in await conn.fetch(sql.format(n))} for n in LAYERS}
        finally:
            await conn.close()

    return asyncio.run(run())


def _db_counts(settings: Settings) -> dict[str, int]:
    import asyncio

    async def run() -> dict[str, int]:
        conn = await asyncpg.connect(settings.database_url)
        try:
            return {n: await conn.fetchval(f'SELECT count(*) FROM "{n}"') for n in LAYERS}
        finally:
            await conn.close()

    return asyncio.run(run())


def _validate_gpkg_script() -> Path:
    """GDAL's GeoPackage validator (python3-gdal's samples), installed when missing."""
    found = [
        Path("/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py"),
        Path("/usr/share/doc/python3-gdal/examples/validate_gpkg.py"),
    ]
    if not any(p.is_file() for p in found):
        subprocess.run(
            [str(PROJECT_ROOT / "scripts" / "ensure-packages"), "python3-gdal"],
            check=False, timeout=900,
        )  # fmt: skip
    script = next((p for p in found if p.is_file()), None)
    assert script is not None, "GDAL's validate_gpkg.py is needed: Debian's python3-gdal"
    return script


async def test_crs84_is_the_one_crs_offered(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """Part 2: crs / bbox-crs name CRS84 or are a 400 citing the rule; answers say Content-Crs."""
    crs84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
    async with app_client(city_db, city_headers["viewer"]) as client:
        ok = await client.get(
            "/ogc/collections/shelters/items",
            params={"crs": crs84, "bbox-crs": "[OGC:CRS84]", "bbox": "108.89,34.24,108.92,34.27"},
        )
        assert ok.status_code == 200 and ok.headers["content-crs"] == f"<{crs84}>"
        assert [f["id"] for f in ok.json()["features"]] == ["S1", "S2"]
        one = await client.get("/ogc/collections/shelters/items/S1", params={"crs": crs84})
        assert one.status_code == 200 and one.headers["content-crs"] == f"<{crs84}>"
        for params in (
            {"crs": "EPSG:4326"},
            {"bbox-crs": "http://www.opengis.net/def/crs/EPSG/0/4326"},
        ):
            bad = await client.get("/ogc/collections/shelters/items", params=params)
            assert bad.status_code == 400 and "/req/crs/crs-action" in bad.json()["detail"]
        coll = await _json(client, "/ogc/collections/shelters")
        assert coll["storageCrs"] == crs84 and coll["crs"] == [crs84]
