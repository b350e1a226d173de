"""OGC API Features under /ogc, and the API-wide rule that unknown query parameters are a 400."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from api.layers import LAYERS
from api.settings import Settings
from tests.conftest import app_client
from tests.support.liveserver import live_server
from tests.support.tools import require

BASE = "http://testserver/ogc"
CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"


async def _get(settings: Settings, headers: dict[str, str], url: str, status: int = 200) -> Any:
    async with app_client(settings, headers) as client:
        r = await client.get(url)
    assert r.status_code == status, r.text
    return r


async def test_landing_conformance_api(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """Landing links (OpenAPI 3.0 service-desc), conformance classes, the 3.0 document."""
    h = city_headers["viewer"]
    landing = (await _get(city_db, h, "/ogc")).json()
    links = {link["rel"]: (link["type"], link["href"]) for link in landing["links"]}
    assert links["service-desc"] == (
        "application/vnd.oai.openapi+json;version=3.0",
        f"{BASE}/api",
    )
    assert links["conformance"] == ("application/json", f"{BASE}/conformance")
    assert links["data"] == ("application/json", f"{BASE}/collections")
    assert links["service-doc"][0] == "text/html"
    conf = (await _get(city_db, h, "/ogc/conformance?f=json")).json()
    assert conf["conformsTo"] == [
        CORE,
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
        "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
        "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    ]
    r = await _get(city_db, h, "/ogc/api")
    assert r.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    doc = r.json()
    assert doc["openapi"] == "3.0.3" and doc["servers"] == [{"url": BASE}]
    items = doc["paths"]["/collections/shelters/items"]["get"]
    names = [p.get("name") or p["$ref"].rsplit("/", 1)[1] for p in items["parameters"]]
    assert names[:5] == ["bbox", "datetime", "limit", "offset", "f"]
    assert {"capacity", "type", "code"} <= set(names)
    cap = next(p for p in items["parameters"] if p.get("name") == "capacity")
    assert cap["schema"] == {"type": "integer"}
    assert doc["components"]["parameters"]["limit"]["schema"]["maximum"] == 10_000
    assert len([p for p in doc["paths"] if p.endswith("/items")]) == len(LAYERS)


async def test_collections(city_db: Settings, city_headers: dict[str, dict[str, str]]) -> None:
    """One collection per layer with its exact extent and its items link."""
    h = city_headers["viewer"]
    body = (await _get(city_db, h, "/ogc/collections")).json()
    assert [c["id"] for c in body["collections"]] == list(LAYERS)
    shelters = next(c for c in body["collections"] if c["id"] == "shelters")
    assert shelters["extent"]["spatial"]["bbox"] == [[108.9, 34.23, 108.96, 34.26]]
    assert shelters["itemType"] == "feature"
    assert shelters["crs"] == ["http://www.opengis.net/def/crs/OGC/1.3/CRS84"]
    links = {link["rel"]: link for link in shelters["links"]}
    assert links["items"]["href"] == f"{BASE}/collections/shelters/items"
    assert links["items"]["type"] == "application/geo+json"
    assert links["describedby"]["href"] == f"{BASE}/collections/shelters/feature-schema"
    one = (await _get(city_db, h, "/ogc/collections/shelters")).json()
    assert one == shelters
    missing = await _get(city_db, h, "/ogc/collections/nope", 404)
    assert missing.headers["content-type"] == "application/problem+json"
    schema = (await _get(city_db, h, "/ogc/collections/shelters/feature-schema")).json()
    props = schema["properties"]["properties"]["properties"]
    assert props["capacity"]["type"] == "integer" and props["area_m2"]["type"] == "number"
    assert props["updated_at"] == {
        "type": "string",
        "format": "date-time",
        "description": "when the record last changed",
    }


async def test_items_filters_and_paging(
    city_db: Settings, city_headers: dict[str, dict[str, str]]
) -> None:
    """bbox, datetime, property=value, limit, next links, numberMatched/numberReturned."""
    h = city_headers["viewer"]
    r = await _get(city_db, h, "/ogc/collections/shelters/items?bbox=108.89,34.24,108.92,34.27")
    assert r.headers["content-type"] == "application/geo+json"
    fc = r.json()
    assert [f["id"] for f in fc["features"]] == ["S1", "S2"]
    assert (fc["numberMatched"], fc["numberReturned"]) == (2, 2)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", fc["timeStamp"])
    page = (await _get(city_db, h, "/ogc/collections/shelters/items?limit=3")).json()
    assert [f["id"] for f in page["features"]] == ["S1", "S2", "S3"]
    assert (page["numberMatched"], page["numberReturned"]) == (4, 3)
    links = {link["rel"]: link["href"] for link in page["links"]}
    assert links["next"] == f"{BASE}/collections/shelters/items?offset=3&limit=3"
    assert links["collection"] == f"{BASE}/collections/shelters"
    last = (await _get(city_db, h, links["next"].removeprefix("http://testserver"))).json()
    assert [f["id"] for f in last["features"]] == ["S4"]
    assert "next" not in {link["rel"] for link in last["links"]}
    typed = (await _get(city_db, h, "/ogc/collections/shelters/items?type=central")).json()
    assert [f["id"] for f in typed["features"]] == ["S3", "S4"]
    both = await _get(city_db, h, "/ogc/collections/shelters/items?type=central&capacity=3000")
    assert [f["id"] for f in both.json()["features"]] == ["S3"]
    for query, ids in (
        ("datetime=2024-07-02T12:00:00Z/..", []),
        ("datetime=../2024-07-01T00:00:00Z", ["W1", "W2"]),
        ("datetime=2024-07-01T00:00:00Z", ["W1", "W2"]),
        ("datetime=2024-06-01T00:00:00Z/2024-06-30T00:00:00Z", []),
        ("colour=orange", ["W1"]),
    ):
        got = (await _get(city_db, h, f"/ogc/collections/weather_warnings/items?{query}")).json()
        assert [f["id"] for f in got["features"]] == ids, query


async def test_feature_by_id(city_db: Settings, city_headers: dict[str, dict[str, str]]) -> None:
    """items/{featureId} is the feature with that code, with its links."""
    h = city_headers["viewer"]
    f = (await _get(city_db, h, "/ogc/collections/risk_units/items/RU3")).json()
    assert f["type"] == "Feature" and f["id"] == "RU3"
    assert f["geometry"] == {"type": "Point", "coordinates": [108.91, 34.25]}
    assert f["properties"]["category"] == "power"
    assert {link["rel"] for link in f["links"]} == {"self", "collection"}
    await _get(city_db, h, "/ogc/collections/risk_units/items/NOPE", 404)
    await _get(city_db, h, "/ogc/collections/nope/items/RU3", 404)


@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("/ogc/collections/shelters/items?limit=abc", "query.limit: Input should be a valid"),
        ("/ogc/collections/shelters/items?limit=0", "query.limit: Input should be greater"),
        (
            "/ogc/collections/shelters/items?offset=1000001",
            "offset=1000001 is above the cap max_offset=1000000",
        ),
        ("/ogc/collections/shelters/items?foo=bar", "unknown query parameter 'foo'"),
        ("/ogc/collections/shelters/items?bbox=1,2,3", "bbox: expected 4 numbers"),
        ("/ogc/collections/shelters/items?bbox=1,2,3,91", "bbox: latitude 91.0 is outside"),
        ("/ogc/collections/shelters/items?datetime=soon", "datetime: 'soon' is not an RFC 3339"),
        ("/ogc/collections/shelters/items?datetime=../..", "datetime: '../..' is open at both"),
        ("/ogc/collections/shelters/items?capacity=lots", "capacity: 'lots' is not an integer"),
        ("/ogc/collections/shelters/items?f=html", "query.f: Input should be 'json'"),
        ("/ogc/collections?limit=5", "unknown query parameter(s): limit; this endpoint accepts: f"),
        ("/ogc?x=1", "unknown query parameter(s): x"),
        ("/ogc/collections/shelters/items/S1?bbox=1,2,3,4", "unknown query parameter(s): bbox"),
        ("/layers?verbose=1", "unknown query parameter(s): verbose; this endpoint accepts: none"),
        ("/stats/districts?district=D1", "unknown query parameter(s): district"),
        ("/risk-units/RU1?expand=all", "unknown query parameter(s): expand"),
        ("/auth/me?x=1", "unknown query parameter(s): x"),
        ("/admin/keys?page=2", "unknown query parameter(s): page"),
    ],
)
async def test_bad_or_unknown_parameters_are_400_everywhere(
    city_db: Settings, city_headers: dict[str, dict[str, str]], url: str, detail: str
) -> None:
    """OGC requires 400 (not 422) for invalid and unknown parameters; the whole API does so."""
    r = await _get(city_db, city_headers["admin"], url, 400)
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"].startswith(detail), r.json()["detail"]


async def test_unknown_parameters_on_open_routes(city_db: Settings) -> None:
    """Even health checks refuse parameters they do not take."""
    async with app_client(city_db) as client:
        assert (await client.get("/healthz")).status_code == 200
        r = await client.get("/healthz?verbose=1")
    assert r.status_code == 400 and r.json()["unknown"] == ["verbose"]


def test_gdal_reads_the_service(city_db: Settings, city_headers: dict[str, dict[str, str]]) -> None:
    """Debian's ogrinfo (OAPIF driver) lists the layers and reads features within a bbox."""
    ogrinfo = require("ogrinfo", "gdal-bin")
    key = city_headers["viewer"]["X-API-Key"]
    with live_server(city_db) as base:
        auth = ["--config", "GDAL_HTTP_HEADERS", f"X-API-Key: {key}"]
        listing = subprocess.run(
            [ogrinfo, *auth, "-ro", "-q", f"OAPIF:{base}/ogc"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert listing.returncode == 0, listing.stderr
        names = re.findall(r"^\d+: (\w+)", listing.stdout, re.M)
        assert names == list(LAYERS)
        spat = subprocess.run(
            [ogrinfo, *auth, "-ro", "-q", f"OAPIF:{base}/ogc", "shelters",
             "-spat", "108.89", "34.24", "108.92", "34.27"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert spat.returncode == 0, spat.stderr
        assert re.findall(r"^  code \(String\) = (\w+)", spat.stdout, re.M) == ["S1", "S2"]
        assert "capacity (Integer) = 1000" in spat.stdout
        assert "POINT (108.9115 34.25)" in spat.stdout
        refused = subprocess.run(
            [ogrinfo, "-ro", "-q", f"OAPIF:{base}/ogc"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert refused.returncode != 0 and "401" in refused.stderr + refused.stdout
