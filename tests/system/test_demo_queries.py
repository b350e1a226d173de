"""Queries and analysis over the Xi'an demo city, checked against brute-force SQL and the seed."""

from __future__ import annotations

import math
import re
import subprocess
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from api.layers import LAYERS
from api.settings import Settings
from tests.conftest import app_client
from tests.support.liveserver import live_server
from tests.support.tools import require

#: points round the city: the Bell Tower, the high-tech zone, Lintong, the Qinling foothills
POINTS = [(108.9398, 34.2610), (108.8780, 34.1990), (109.2140, 34.3670), (108.9500, 34.0600)]


@pytest.fixture(scope="module")
async def ro(demo_ro: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A read-only connection to the shared demo copy."""
    conn = await asyncpg.connect(demo_ro.database_url)
    yield conn
    await conn.close()


async def _post(settings: Settings, headers: dict[str, str], path: str, body: Any) -> Any:
    async with app_client(settings, headers) as client:
        r = await client.post(path, json=body)
    assert r.status_code == 200, r.text
    return r.json()


async def test_stats_match_the_seed(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """The city totals are the seed's: 3,176 units, 489 depots with 325,966 items, 43 + 13 teams."""
    async with app_client(demo_ro, demo_ro_headers["viewer"]) as client:
        body = (await client.get("/stats/districts")).json()
    city = body["city"]
    assert city["risk_units"]["total"] == 3176
    assert sum(city["risk_units"]["by_category"].values()) == 3176
    assert city["reserve_depots"] == {"count": 489, "items": 325_966}
    assert city["rescue_teams"]["professional"] == 43 and city["rescue_teams"]["social"] == 13
    assert city["population"] == 12_952_907
    assert len(body["districts"]) == 13
    assert sum(d["risk_units"]["total"] for d in body["districts"]) <= 3176
    assert sum(d["shelters"]["capacity"] for d in body["districts"]) <= city["shelters"]["capacity"]


@pytest.mark.parametrize("point", POINTS)
async def test_nearest_equals_brute_force(
    demo_ro: Settings,
    demo_ro_headers: dict[str, dict[str, str]],
    ro: asyncpg.Connection,
    point: tuple[float, float],
) -> None:
    """The k nearest (KNN + re-ranking in metres) are the first k of a full scan by distance."""
    for layer, k in (("shelters", 10), ("rescue_teams", 5), ("risk_units", 20)):
        fc = await _post(
            demo_ro,
            demo_ro_headers["analyst"],
            "/analysis/nearest",
            {"point": point, "layer": layer, "k": k},
        )
        got = [(f["properties"]["code"], f["properties"]["distance_m"]) for f in fc["features"]]
        rows = await ro.fetch(
            f"SELECT code, round(ST_Distance(geom::geography, "  # noqa: S608 - registry name
            f"ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography)::numeric, 2) AS d "
            f"FROM {layer} ORDER BY 2, 1 LIMIT $3",
            point[0], point[1], k,
        )  # fmt: skip
        assert got == [(r["code"], float(r["d"])) for r in rows], layer


@pytest.mark.parametrize("point", POINTS)
async def test_buffer_equals_brute_force(
    demo_ro: Settings,
    demo_ro_headers: dict[str, dict[str, str]],
    ro: asyncpg.Connection,
    point: tuple[float, float],
) -> None:
    """Everything within 1,500 m, layer by layer, is what a full scan by distance finds."""
    layers = ["risk_units", "vulnerable_sites", "shelters", "lifelines"]
    fc = await _post(
        demo_ro,
        demo_ro_headers["analyst"],
        "/analysis/buffer",
        {"point": point, "distance_m": 1500, "layers": layers},
    )
    for layer in layers:
        expected = await ro.fetch(
            f"SELECT code FROM {layer} WHERE ST_Distance(geom::geography, "  # noqa: S608
            "ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography) <= 1500 ORDER BY code",
            *point,
        )
        got = sorted(
            f["properties"]["code"] for f in fc["features"] if f["properties"]["layer"] == layer
        )
        assert got == [r["code"] for r in expected], layer
        assert fc["counts"][layer]["total"] == len(expected)


async def test_impact_and_coverage_add_up(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]], ro: asyncpg.Connection
) -> None:
    """Impact's population lies between the cells inside the zone and the cells touching it;
    coverage's districts sum to its city summary."""
    point = POINTS[0]
    fc = await _post(
        demo_ro, demo_ro_headers["analyst"], "/analysis/impact", {"point": point, "radius_m": 2000}
    )
    s = fc["summary"]
    bounds = await ro.fetchrow(
        "WITH z AS (SELECT ST_Buffer(ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, 2000, "
        "'quad_segs=32')::geometry AS g) "
        "SELECT sum(population) FILTER (WHERE ST_CoveredBy(c.geom, z.g)) AS inside, "
        "sum(population) AS touching FROM population_cells c, z WHERE ST_Intersects(c.geom, z.g)",
        *point,
    )
    assert bounds["inside"] <= s["population"] <= bounds["touching"]
    units = await ro.fetchval(
        "SELECT count(*) FROM risk_units WHERE ST_DWithin(geom::geography, "
        "ST_SetSRID(ST_MakePoint($1, $2), 4326)::geography, 2000)",
        *point,
    )
    assert s["risk_units"]["total"] == units > 0
    free = sum(
        f["properties"]["free_capacity"]
        for f in fc["features"]
        if f["properties"]["role"] == "shelter"
    )
    assert free == s["shelters"]["free_capacity"]
    assert s["shelters"]["population_unsheltered"] == max(0, math.ceil(s["population"]) - free)
    cov = await _post(
        demo_ro, demo_ro_headers["analyst"], "/analysis/coverage", {"distance_m": 1000}
    )
    props = [f["properties"] for f in cov["features"]]
    assert len(props) == 13
    assert sum(p["population"] for p in props) == cov["summary"]["population"] == 12_952_907
    covered = sum(p["covered_population"] for p in props)
    assert abs(covered - cov["summary"]["covered_population"]) < 1
    assert all(0 <= p["covered_share"] <= 1 for p in props)


def test_gdal_reads_the_demo_layers(
    demo_ro: Settings, demo_ro_headers: dict[str, dict[str, str]]
) -> None:
    """ogrinfo OAPIF: lists the demo's layers with their counts; -spat reads exactly the
    shelters of a 2 km box round the Bell Tower, following next links page by page."""
    ogrinfo = require("ogrinfo", "gdal-bin")
    key = demo_ro_headers["viewer"]["X-API-Key"]
    auth = ["--config", "GDAL_HTTP_HEADERS", f"X-API-Key: {key}"]
    with live_server(demo_ro) as base:
        url = f"OAPIF:{base}/ogc"
        listing = subprocess.run(
            [ogrinfo, *auth, "-ro", "-q", url], capture_output=True, text=True, timeout=120
        )
        assert listing.returncode == 0, listing.stderr
        assert re.findall(r"^\d+: (\w+)", listing.stdout, re.M) == list(LAYERS)
        summary = subprocess.run(
            [ogrinfo, *auth, "-ro", "-so", url, "risk_units"],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert "Feature Count: 3176" in summary.stdout, summary.stdout
        box = ["108.928", "34.252", "108.952", "34.270"]
        spat = subprocess.run(
            [ogrinfo, *auth, "-ro", "-q", url, "shelters", "-spat", *box],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        assert spat.returncode == 0, spat.stderr
        codes = sorted(re.findall(r"^  code \(String\) = (\S+)", spat.stdout, re.M))
    import asyncio

    async def expected() -> list[str]:
        conn = await asyncpg.connect(demo_ro.database_url)
        try:
            rows = await conn.fetch(
                "SELECT code FROM shelters WHERE ST_Intersects(geom, "
                "ST_MakeEnvelope($1, $2, $3, $4, 4326)) ORDER BY code",
                *(float(v) for v in box),
            )
            return [r["code"] for r in rows]
        finally:
            await conn.close()

    want = asyncio.run(expected())
    assert len(want) > 10  # more than one page of GDAL's default 10
    assert codes == want
