"""Hostile and bad input: each answer a 4xx problem JSON with the reason, nothing written.

bbox, geometries and distances on every endpoint that takes them; injection
strings in every string parameter and filter (identifiers only from the
allow-list); no filter language with database functions. Uploads are in
tests/http/test_upload_hostile.py, readings in tests/http/test_readings_hostile.py.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote, quote_plus

import asyncpg
import httpx
import pytest

from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.support.city import O, load_city

#: what must never appear in an answer (SQL, driver or GEOS text, a traceback)
LEAKS = ("select ", "syntax error", "asyncpg", "geos", "traceback", "postgres", "psycopg",
         "sqlstate", "relation ", "pg_")  # fmt: skip
TABLES = ("risk_units", "shelters", "districts", "api_keys", "audit_log", "weather_warnings")


@pytest.fixture(scope="module")
async def city(
    admin: asyncpg.Connection, base_settings: Settings, empty_template: str
) -> AsyncIterator[tuple[Settings, dict[str, dict[str, str]]]]:
    """The fixture city in a database of this module's own (checked unchanged at the end)."""
    from tests.support import dbutil

    name = dbutil.next_name("hostile")
    await dbutil.create_database(admin, name, empty_template)
    settings = dbutil.settings_for(base_settings, name)
    try:
        await load_city(settings)
        yield settings, await role_headers(settings)
    finally:
        await dbutil.drop_database(admin, name)


@pytest.fixture
async def client(
    city: tuple[Settings, dict[str, dict[str, str]]],
) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client on the module's city; the tables' rows are the same after the test."""
    settings, headers = city
    before = await _counts(settings)
    async with app_client(settings, headers["admin"]) as c:
        yield c
    assert await _counts(settings) == before, "bad input changed the database"


async def _counts(settings: Settings) -> dict[str, int]:
    conn = await asyncpg.connect(settings.database_url)
    try:
        return {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in TABLES}
    finally:
        await conn.close()


def leaks(r: httpx.Response, echo: str = "") -> bool:
    """True when the answer shows SQL, driver or GEOS text (the caller's own input aside)."""
    flat = r.text
    if echo:
        for form in (json.dumps(echo)[1:-1], echo, quote_plus(echo), quote(echo)):
            flat = flat.replace(form, "")
    flat = flat.lower()
    return any(leak in flat for leak in LEAKS)


def refused(r: httpx.Response, *reason: str, status: int = 400, echo: str = "") -> None:
    """A problem JSON with this status whose detail names the reason; nothing leaked."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"] == "application/problem+json"
    detail = r.json()["detail"]
    for word in reason:
        assert word in detail, (word, detail)
    assert not leaks(r, echo), r.text


# ---------------------------------------------------------------- bbox

BAD_BBOXES = [
    ("108,35,109,34", "minLat 35.0 is greater than maxLat 34.0"),
    ("108,-91,109,34", "latitude -91.0 is outside -90..90"),
    ("108,34,109,90.5", "latitude 90.5 is outside -90..90"),
    ("-181,34,109,35", "longitude -181.0 is outside -180..180"),
    ("108,NaN,109,35", "is not a finite number"),
    ("108,34,inf,35", "is not a finite number"),
    ("108,34,-Infinity,35", "is not a finite number"),
    ("108,34,109", "expected 4 numbers"),
    ("108,34,109,35,1", "got 5"),
    ("", "expected 4 numbers"),
    ("a,b,c,d", "is not a number"),
    ("108,34,109,35'--", "is not a number"),
]
BBOX_URLS = ["/layers/shelters/features", "/ogc/collections/shelters/items"]


@pytest.mark.parametrize(("bbox", "reason"), BAD_BBOXES)
async def test_bad_bbox(client: httpx.AsyncClient, bbox: str, reason: str) -> None:
    """Every bbox-taking endpoint refuses the box with the reason."""
    for url in BBOX_URLS:
        refused(await client.get(url, params={"bbox": bbox}), "bbox", reason)


async def test_good_bbox_still_works(client: httpx.AsyncClient) -> None:
    """The checks refuse only what is wrong."""
    r = await client.get(
        "/layers/shelters/features", params={"bbox": "108.89,34.255,108.91,34.265"}
    )
    assert r.status_code == 200 and [f["properties"]["code"] for f in r.json()["features"]] == [
        "S1"
    ]


# ---------------------------------------------------------------- geometries

RING = [[108.89, 34.24], [108.91, 34.24], [108.91, 34.26], [108.89, 34.26], [108.89, 34.24]]
BAD_GEOMETRIES: list[tuple[str, Any, int, tuple[str, ...]]] = [
    (
        "bowtie",
        {
            "type": "Polygon",
            "coordinates": [
                [
                    [108.89, 34.24],
                    [108.91, 34.26],
                    [108.91, 34.24],
                    [108.89, 34.26],
                    [108.89, 34.24],
                ]
            ],
        },
        400,
        ("Self-intersection",),
    ),  # fmt: skip
    ("unclosed", {"type": "Polygon", "coordinates": [RING[:-1]]}, 400, ("not closed",)),
    ("short ring", {"type": "Polygon", "coordinates": [RING[:3]]}, 400, ("needs 4 or more",)),
    ("off the globe", {"type": "Point", "coordinates": [108.9, 91]}, 400, ("outside -90..90",)),
    ("string coord", {"type": "Point", "coordinates": ["108.9", 34]}, 400, ("non-numeric",)),
    ("no coords", {"type": "Polygon"}, 400, ("no coordinates",)),
    ("collection", {"type": "GeometryCollection", "geometries": []}, 400, ("not supported",)),
    (
        "unknown crs",
        {
            **{"type": "Polygon", "coordinates": [RING]},
            "crs": {"type": "name", "properties": {"name": "EPSG:3857"}},
        },
        400,
        ("CRS",),
    ),  # fmt: skip
    (
        "srid member",
        {"type": "Polygon", "coordinates": [RING], "srid": 3857},
        400,
        ("unexpected member",),
    ),  # fmt: skip
    (
        "too many vertices",
        {"type": "LineString", "coordinates": [[108.9, 34.2 + i * 1e-6] for i in range(10_050)]},
        413,
        ("analysis_max_vertices",),
    ),  # fmt: skip
]


def _geometry_bodies(geometry: Any) -> list[tuple[str, dict[str, Any]]]:
    """Every analysis body that takes a geometry."""
    return [
        ("/analysis/buffer", {"geometry": geometry, "distance_m": 100}),
        ("/analysis/overlay", {"layer": "risk_units", "geometry": geometry}),
        ("/analysis/impact", {"geometry": geometry, "radius_m": 100}),
        ("/analysis/nearest", {"geometry": geometry, "layer": "shelters"}),
    ]


@pytest.mark.parametrize(("case", "geometry", "status", "reason"), BAD_GEOMETRIES,
                         ids=[c[0] for c in BAD_GEOMETRIES])  # fmt: skip
async def test_bad_geometry(
    client: httpx.AsyncClient, case: str, geometry: Any, status: int, reason: tuple[str, ...]
) -> None:
    """400 (413 past the vertex cap) naming the problem, never a GEOS error as 500."""
    for path, body in _geometry_bodies(geometry):
        refused(await client.post(path, json=body), *reason, status=status)
    if case not in ("too many vertices", "string coord", "no coords", "collection"):
        warning = {
            "code": "WX",
            "type": "heat",
            "colour": "red",
            "geometry": geometry,
            "valid_from": "2024-01-01T00:00:00Z",
            "valid_to": "2024-01-02T00:00:00Z",
        }
        r = await client.post("/weather-warnings", json=warning)
        assert r.status_code == 400, r.text
        assert not leaks(r), r.text


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_non_finite_numbers(client: httpx.AsyncClient, token: str) -> None:
    """NaN/Inf in coordinates or distances (JSON extensions, or overflowing) are a 400."""
    bodies = [
        ("/analysis/buffer", f'{{"point": [{token}, 34.2], "distance_m": 100}}'),
        ("/analysis/buffer", f'{{"point": [108.9, 34.2], "distance_m": {token}}}'),
        ("/analysis/buffer",
         f'{{"geometry": {{"type": "Point", "coordinates": [108.9, {token}]}}, "distance_m": 1}}'),
        ("/analysis/impact", f'{{"point": [108.9, 34.2], "radius_m": {token}}}'),
        ("/analysis/coverage", f'{{"distance_m": {token}}}'),
        ("/analysis/nearest", f'{{"point": [108.9, {token}], "layer": "shelters"}}'),
    ]  # fmt: skip
    for path, text in bodies:
        r = await client.post(path, content=text, headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, text, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert not leaks(r), r.text


# ---------------------------------------------------------------- distances and counts

BAD_DISTANCES: list[tuple[Any, tuple[str, ...]]] = [
    (-1, ("greater than or equal to 0",)),
    (-1e-9, ("greater than or equal to 0",)),
    (50_000.001, ("analysis_max_radius_m",)),
    (1e308, ("analysis_max_radius_m",)),
    ("500m", ("valid number",)),
    (None, ("valid number",)),
]


@pytest.mark.parametrize(("value", "reason"), BAD_DISTANCES)
async def test_bad_distance(client: httpx.AsyncClient, value: Any, reason: tuple[str, ...]) -> None:
    """Negative, huge or non-numeric distances are a 400 naming the member or the cap."""
    for path, body in [
        ("/analysis/buffer", {"point": O, "distance_m": value}),
        ("/analysis/impact", {"point": O, "radius_m": value}),
        ("/analysis/coverage", {"distance_m": value}),
    ]:
        refused(await client.post(path, json=body), *reason)


BAD_KS = [(0, "greater than or equal to 1"), (-5, "greater than or equal to 1"),
          (101, "analysis_max_k"), (10**30, "less than or equal")]  # fmt: skip


@pytest.mark.parametrize(("k", "reason"), BAD_KS)
async def test_bad_k(client: httpx.AsyncClient, k: int, reason: str) -> None:
    """k out of range is a 400 naming the bound or the cap."""
    r = await client.post("/analysis/nearest", json={"point": O, "layer": "shelters", "k": k})
    refused(r, reason)


# ---------------------------------------------------------------- injection

INJECTIONS = ["'x'' OR 1=1 --", "x'; DROP TABLE shelters; --", ";", '"quoted"', '"code"',
              "1) OR (1=1", "S1' UNION SELECT key_hash FROM api_keys --", "%' OR '%'='",
              "code; SELECT pg_sleep(10)", "$1", "\\'"]  # fmt: skip


@pytest.mark.parametrize("evil", INJECTIONS)
async def test_injection_in_values_finds_nothing(client: httpx.AsyncClient, evil: str) -> None:
    """As values, injection strings are bound parameters: a 400 (not a valid value) or no rows."""
    gets = [
        ("/layers/shelters/features", {"q": evil}),
        ("/layers/shelters/features", {"district": evil}),
        ("/layers/shelters/features", {"category": evil}),
        ("/layers/shelters/features", {"name": evil}),
        ("/layers/shelters/features", {"name.in": evil}),
        ("/layers/shelters/features", {"code": evil, "f": "csv"}),
        ("/layers/risk_units/features", {"level": evil}),
        ("/layers/shelters/features", {"capacity.gte": evil}),
        ("/layers/shelters/features", {"updated_since": evil}),
        ("/ogc/collections/shelters/items", {"name": evil}),
        ("/ogc/collections/shelters/items", {"datetime": evil}),
        ("/hidden-hazards", {"unit": evil}),
        ("/accidents", {"unit": evil}),
        ("/monitoring/alarms", {"unit": evil}),
        ("/tiles/risk_units/12/3288/1628.mvt", {"level": evil}),
        ("/tiles/shelters/12/3288/1628.mvt", {"district": evil}),
        ("/tiles/onemap/tilejson.json", {"category": evil}),
    ]
    for url, params in gets:
        r = await client.get(url, params=params)
        assert r.status_code in (200, 204, 400), (url, params, r.status_code, r.text)
        if r.status_code != 200 or "json" in r.headers["content-type"]:
            assert not leaks(r, evil), r.text
        if r.status_code == 200 and "json" in r.headers["content-type"]:
            body = r.json()
            if isinstance(body, list):
                assert body == [], (url, params)
            else:
                assert body.get("features", []) == [], (url, params)
        elif r.status_code == 200 and "csv" in r.headers["content-type"]:
            assert r.text.strip().count("\n") == 0, r.text  # the header line only
        elif r.status_code == 200:  # a tile
            assert "tilejson" in url, (url, params)
    paths = [
        f"/risk-units/{evil}", f"/risk-units/{evil}/grade", f"/hidden-hazards/{evil}",
        f"/ogc/collections/shelters/items/{evil}", f"/layers/{evil}", f"/layers/{evil}/features",
        f"/ogc/collections/{evil}/items", f"/tiles/{evil}/12/3288/1628.mvt",
    ]  # fmt: skip
    for url in paths:
        r = await client.get(url.replace("#", "%23").replace("?", "%3F"))
        assert r.status_code in (400, 404), (url, r.status_code, r.text)
        assert not leaks(r, evil), r.text
    for path, body in [
        ("/analysis/buffer", {"point": O, "distance_m": 500, "layers": ["shelters"],
                              "where": {"shelters": {"name": evil}}}),
        ("/analysis/overlay", {"layer": "risk_units", "categories": [evil], "with": {
            "layer": "districts", "codes": [evil]}}),
        ("/analysis/nearest", {"point": O, "layer": "shelters", "where": {"type": evil}}),
        ("/analysis/buffer", {"feature": {"layer": "shelters", "code": evil}, "distance_m": 5}),
    ]:  # fmt: skip
        r = await client.post(path, json=body)
        assert r.status_code in (200, 400, 404), (path, r.text)
        assert not leaks(r, evil), r.text
        if r.status_code == 200:
            assert r.json()["features"] == [], (path, body)


@pytest.mark.parametrize("evil", INJECTIONS + ["name", "geom", "id", "ST_AsText(geom)"])
async def test_identifiers_only_from_the_allow_list(client: httpx.AsyncClient, evil: str) -> None:
    """Field names (filters, sort, analysis `where`) outside the layer's fields are a 400."""
    known = {
        "name",
        "id",
    }  # real columns: `name` is a field, `id` is the tie-breaker (not sortable)
    r = await client.get("/layers/shelters/features", params={"sort": evil})
    if evil == "name":
        assert r.status_code == 200
    else:
        refused(r, "sort", echo=evil)
    if evil not in known:
        for url, params in [
            ("/layers/shelters/features", {evil: "x"}),
            ("/layers/shelters/features", {f"{evil}.gte": "1"}),
            ("/ogc/collections/shelters/items", {evil: "x"}),
            ("/tiles/shelters/12/3288/1628.mvt", {evil: "x"}),
        ]:
            refused(await client.get(url, params=params), echo=evil)
        body = {"point": O, "distance_m": 500, "where": {"shelters": {evil: "x"}}}
        refused(await client.post("/analysis/buffer", json=body), echo=evil)
        body = {"point": O, "layer": "shelters", "where": {evil: "x"}}
        refused(await client.post("/analysis/nearest", json=body), echo=evil)
    r = await client.get("/layers/shelters/features", params={"sort": f"name,{evil}"})
    if evil == "name":
        assert r.status_code == 200
    else:
        refused(r, "sort", echo=evil)
    layers = {"layers": [evil], "point": O, "distance_m": 5}
    refused(await client.post("/analysis/buffer", json=layers), echo=evil)


@pytest.mark.parametrize(
    "params",
    [
        {"filter": "pg_sleep(10) = 0"},
        {"filter": "pg_read_file('/etc/passwd') <> ''"},
        {"filter": "current_setting('is_superuser') = 'on'"},
        {"filter-lang": "cql2-text", "filter": "name = 'x'"},
        {"filter-lang": "cql2-json", "filter": '{"op":"=","args":[{"property":"name"},"x"]}'},
        {"sortby": "name"},
    ],
)
async def test_no_filter_language(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    """No CQL2 (or any expression language): `filter`, `filter-lang`, `sortby` are unknown, 400."""
    for url in ("/ogc/collections/shelters/items", "/layers/shelters/features"):
        r = await client.get(url, params=params)
        refused(r, "unknown query parameter")
    conformance = (await client.get("/ogc/conformance")).json()["conformsTo"]
    assert not [c for c in conformance if "filter" in c or "cql" in c.lower()]


async def test_city_is_intact(city: tuple[Settings, dict[str, dict[str, str]]]) -> None:
    """After every hostile request above, the tables still hold the fixture city."""
    conn = await asyncpg.connect(city[0].database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM risk_units") == 6
    finally:
        await conn.close()


@pytest.mark.parametrize("when", [50920, 1.7e9, True, [2024], {"t": 1}])
async def test_timestamps_are_text(client: httpx.AsyncClient, when: Any) -> None:
    """A number is not a date-time (lax parsing would grade the city as of 1970): 400."""
    refused(await client.post("/grading/run", json={"as_of": when}), "as_of", "RFC 3339")
    body = {"unit": {"category": "gas"}, "as_of": when}
    refused(await client.post("/grading/evaluate", json=body), "as_of")
    warning = {"code": "WT", "type": "heat", "colour": "red", "districts": ["D1"],
               "valid_from": when, "valid_to": "2030-01-01T00:00:00Z"}  # fmt: skip
    refused(await client.post("/weather-warnings", json=warning), "valid_from")
