"""Classified risk queries on the fixture city: catalogue, features, one unit, district stats."""

from __future__ import annotations

import csv
import io
from typing import Any

import asyncpg
import pytest

from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.support.city import load_city


async def _get(settings: Settings, headers: dict[str, str], url: str, status: int = 200) -> Any:
    async with app_client(settings, headers) as client:
        r = await client.get(url)
    assert r.status_code == status, r.text
    return r


def _codes(fc: dict[str, Any]) -> list[str]:
    return [f["id"] for f in fc["features"]]


async def test_catalogue(city_db: Settings, city_headers: dict[str, dict[str, str]]) -> None:
    """Names, titles, geometry, exact counts and extents, typed fields."""
    r = await _get(city_db, city_headers["viewer"], "/layers")
    layers = {entry["name"]: entry for entry in r.json()["layers"]}
    ru = layers["risk_units"]
    assert (ru["title"], ru["title_zh"], ru["geometry"]) == (
        "Risk units",
        "安全风险单位",
        "point_or_area",
    )
    assert ru["geometry_types"] == ["POINT", "MULTIPOLYGON"]
    assert ru["count"] == 6
    assert ru["extent"] == [108.9, 34.24, 108.96, 34.27]
    fields = {f["name"]: f for f in ru["fields"]}
    assert fields["current_r"]["type"] == "float"
    assert fields["level_changed_at"]["type"] == "timestamp"
    assert fields["current_level"]["choices"] == ["low", "general", "large", "major"]
    assert (ru["category_field"], ru["level_field"]) == ("category", "current_level")
    assert layers["shelters"]["count"] == 4 and layers["population_cells"]["count"] == 4
    assert layers["accidents"]["count"] == 0 and layers["accidents"]["extent"] is None
    one = (await _get(city_db, city_headers["viewer"], "/layers/shelters")).json()
    assert one["count"] == 4 and one["extent"] == [108.9, 34.23, 108.96, 34.26]
    await _get(city_db, city_headers["viewer"], "/layers/nope", 404)


async def test_catalogue_follows_layer_versions(empty_db: Settings) -> None:
    """A new row changes the count at once (the cache is keyed by layer_versions)."""
    await load_city(empty_db)
    h = (await role_headers(empty_db))["viewer"]
    async with app_client(empty_db, h) as client:
        before = (await client.get("/layers/shelters")).json()
        conn = await asyncpg.connect(empty_db.database_url)
        try:
            await conn.execute(
                "INSERT INTO shelters (code, name, type, capacity, geom) VALUES "
                "('S9', 'far', 'fixed', 1, ST_GeomFromText('POINT(109.5 34.5)', 4326))"
            )
        finally:
            await conn.close()
        after = (await client.get("/layers/shelters")).json()
    assert before["count"] == 4 and after["count"] == 5
    assert after["extent"] == [108.9, 34.23, 109.5, 34.5]


@pytest.mark.parametrize(
    ("query", "codes"),
    [
        ("", ["RU1", "RU2", "RU3", "RU4", "RU5", "RU6"]),
        ("category=gas", ["RU1", "RU2"]),
        ("category=gas,power", ["RU1", "RU2", "RU3"]),
        ("level=general", ["RU3", "RU6"]),
        ("level=large,major", ["RU1", "RU2"]),
        ("district=D2", ["RU6"]),
        ("bbox=108.895,34.245,108.925,34.255", ["RU1", "RU3", "RU5"]),
        ("q=gas", ["RU1", "RU2"]),
        ("q=ru5", ["RU5"]),
        ("q=50%25", []),
        ("current_r.gte=9", ["RU1", "RU2", "RU3"]),
        ("current_r.gt=9&current_r.lt=24.5", ["RU2"]),
        ("current_r.lte=7", ["RU4", "RU6"]),
        ("registered_level=general", ["RU2", "RU3", "RU6"]),
        ("registered_level.in=low,major", ["RU4", "RU5"]),
        ("department=gas office", ["RU1"]),
        ("level_changed_at.gte=2024-05-01T08:00:00Z", ["RU1"]),
        ("level_changed_at.lt=2024-05-01", []),
        ("category=gas&level=large", ["RU2"]),
        ("sort=-current_r", ["RU1", "RU2", "RU3", "RU6", "RU4", "RU5"]),
        ("sort=current_r", ["RU4", "RU6", "RU3", "RU2", "RU1", "RU5"]),
        ("sort=category,-code", ["RU4", "RU2", "RU1", "RU5", "RU3", "RU6"]),
        ("updated_since=2000-01-01", ["RU1", "RU2", "RU3", "RU4", "RU5", "RU6"]),
        ("updated_since=2999-01-01T00:00:00Z", []),
    ],
)
async def test_feature_filters(
    city_db: Settings, city_headers: dict[str, dict[str, str]], query: str, codes: list[str]
) -> None:
    """Every filter of /layers/{layer}/features, alone and combined, and sorting."""
    r = await _get(city_db, city_headers["viewer"], f"/layers/risk_units/features?{query}")
    assert r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert _codes(fc) == codes
    assert fc["numberMatched"] == len(codes) == fc["numberReturned"]


async def test_feature_page_and_links(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """limit/offset with next/prev links that keep the filters; properties are typed."""
    h = city_headers["viewer"]
    fc = (await _get(city_db, h, "/layers/risk_units/features?category=gas,power&limit=2")).json()
    assert _codes(fc) == ["RU1", "RU2"]
    assert (fc["numberMatched"], fc["numberReturned"]) == (3, 2)
    links = {link["rel"]: link["href"] for link in fc["links"]}
    assert set(links) == {"self", "next"}
    assert links["next"] == (
        "http://testserver/layers/risk_units/features?category=gas%2Cpower&offset=2&limit=2"
    )
    nxt = (await _get(city_db, h, links["next"].removeprefix("http://testserver"))).json()
    assert _codes(nxt) == ["RU3"]
    assert {link["rel"] for link in nxt["links"]} == {"self", "prev"}
    first = fc["features"][0]
    assert first["geometry"] == {"type": "Point", "coordinates": [108.9, 34.25]}
    props = first["properties"]
    assert props["current_r"] == 24.5 and props["current_level"] == "major"
    assert props["level_changed_at"] == "2024-05-01T08:00:00+00:00"


async def test_feature_csv(city_db: Settings, city_headers: dict[str, dict[str, str]]) -> None:
    """f=csv: the fields, a point on each feature and its WKT."""
    r = await _get(
        city_db, city_headers["viewer"], "/layers/shelters/features?f=csv&sort=-capacity&limit=2"
    )
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.headers["x-total-count"] == "4"
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [(row["code"], row["capacity"], row["lon"], row["lat"], row["wkt"]) for row in rows] == [
        ("S4", "10000", "108.9600000", "34.2500000", "POINT(108.96 34.25)"),
        ("S3", "3000", "108.9000000", "34.2300000", "POINT(108.9 34.23)"),
    ]
    assert list(rows[0])[:4] == ["code", "name", "district", "type"]


@pytest.mark.parametrize(
    ("query", "detail"),
    [
        ("foo=1", "unknown query parameter 'foo': not a filter of this endpoint"),
        ("capacity.near=5", "capacity.near: unknown operator 'near'"),
        ("limit=abc", "query.limit: Input should be a valid integer"),
        ("limit=0", "query.limit: Input should be greater than or equal to 1"),
        ("limit=10001", "limit=10001 is above the cap features_max_limit=10000"),
        ("offset=-1", "query.offset: Input should be greater than or equal to 0"),
        ("offset=1000001", "offset=1000001 is above the cap max_offset=1000000"),
        ("bbox=1,2,3", "bbox: expected 4 numbers minLon,minLat,maxLon,maxLat"),
        ("bbox=108,34,109,95", "bbox: latitude 95.0 is outside -90..90"),
        ("bbox=108,34,109,nan", "bbox: 'nan' is not a finite number"),
        ("bbox=a,b,c,d", "bbox: 'a' is not a number"),
        ("capacity=big", "capacity: 'big' is not an integer"),
        ("capacity.gte=1e999", "capacity.gte: '1e999' is not an integer"),
        ("area_m2.gte=inf", "area_m2.gte: 'inf' is not a finite number"),
        ("type=tent", "type: 'tent' is not one of emergency, fixed, central"),
        ("name.gte=a", "name.gte: text fields have no range"),
        ("sort=nope", "sort: layer shelters has no field 'nope'"),
        ("updated_since=yesterday", "updated_since: 'yesterday' is not an RFC 3339 date-time"),
        ("level=x", "level: layer shelters has no level"),
        ("f=xml", "query.f: Input should be 'geojson' or 'csv'"),
        ("capacity=1&capacity=2", "query parameter 'capacity' is given more than once"),
        ("capacity=" + "9" * 30, "capacity: '" + "9" * 30 + "' is out of range"),
        ("name=a%00b", "query parameter 'name' contains a NUL character"),
    ],
)
async def test_bad_feature_parameters_are_400(
    city_db: Settings, city_headers: dict[str, dict[str, str]], query: str, detail: str
) -> None:
    """Unknown names, bad values, bad bboxes, caps: 400 problem JSON saying which and why."""
    r = await _get(city_db, city_headers["viewer"], f"/layers/shelters/features?{query}", 400)
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"].startswith(detail), r.json()["detail"]


async def test_risk_unit(city_db: Settings, city_headers: dict[str, dict[str, str]]) -> None:
    """One unit with its grade (from risk_units' grading columns) and related counts."""
    r = await _get(city_db, city_headers["viewer"], "/risk-units/RU1")
    body = r.json()
    assert body["id"] == "RU1" and body["district_name"] == "West"
    assert body["geometry"] == {"type": "Point", "coordinates": [108.9, 34.25]}
    assert body["properties"]["category"] == "gas"
    assert body["grade"] == {
        "level": "major",
        "colour": "red",
        "r": 24.5,
        "registered_level": "large",
        "changed_at": "2024-05-01T08:00:00+00:00",
    }
    assert body["related"] == {
        "hazard_sources": [],
        "monitoring_points": 0,
        "active_alarms": 0,
        "open_hidden_hazards": 0,
        "accidents_365d": 0,
    }
    ungraded = (await _get(city_db, city_headers["viewer"], "/risk-units/RU5")).json()
    assert ungraded["grade"]["level"] is None and ungraded["grade"]["colour"] is None
    assert ungraded["geometry"]["type"] == "MultiPolygon"
    missing = await _get(city_db, city_headers["viewer"], "/risk-units/NOPE", 404)
    assert missing.json()["detail"] == "no risk unit 'NOPE'"


async def test_district_stats(city_db: Settings, city_headers: dict[str, dict[str, str]]) -> None:
    """Units by level and category, shelter places per resident, depots, teams: exact."""
    body = (await _get(city_db, city_headers["viewer"], "/stats/districts")).json()
    d1, d2 = body["districts"]
    assert (d1["code"], d1["name"], d1["adcode"], d1["population"]) == (
        "D1",
        "West",
        "610102",
        1600,
    )
    assert d1["risk_units"]["total"] == 5
    assert d1["risk_units"]["by_level"] == {
        "ungraded": 1,
        "low": 1,
        "general": 1,
        "large": 1,
        "major": 1,
    }
    cats = d1["risk_units"]["by_category"]
    assert len(cats) == 15 and sum(cats.values()) == 5
    assert {k: v for k, v in cats.items() if v} == {
        "gas": 2,
        "hazardous_chemicals": 1,
        "construction": 1,
        "power": 1,
    }
    assert d1["shelters"] == {
        "count": 3,
        "capacity": 4500,
        "occupied": 900,
        "capacity_per_resident": 2.8125,
    }
    assert d1["reserve_depots"] == {"count": 2, "items": 1150}
    assert d1["rescue_teams"] == {"count": 2, "people": 65, "professional": 2, "social": 0}
    assert d2["shelters"]["capacity_per_resident"] == 12.5
    assert d2["rescue_teams"] == {"count": 1, "people": 60, "professional": 0, "social": 1}
    city = body["city"]
    assert city["population"] == 2400 and city["code"] is None
    assert city["risk_units"]["total"] == 6
    assert city["risk_units"]["by_level"] == {
        "ungraded": 1,
        "low": 1,
        "general": 2,
        "large": 1,
        "major": 1,
    }
    assert city["shelters"] == {
        "count": 4,
        "capacity": 14500,
        "occupied": 900,
        "capacity_per_resident": 6.0417,
    }
    assert city["reserve_depots"] == {"count": 2, "items": 1150}
    assert city["rescue_teams"] == {"count": 3, "people": 125, "professional": 2, "social": 1}
