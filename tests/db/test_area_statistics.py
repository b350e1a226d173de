"""The seed's per-area table (issue 18): the decoded CSV traced to the seed's cells, its sums,
and the demo city built from it (organisations, towns, depots, stock, broadcasts)."""

from __future__ import annotations

import csv
import re
from collections.abc import AsyncIterator
from decimal import Decimal

import asyncpg
import pytest

from api.settings import Settings
from geodata.build import AREA_COLUMNS, load_demo
from geodata.organisations import (
    CATEGORY_DEPARTMENTS,
    CITY_DEPOT_AREAS,
    CITY_STOCK_TOTAL,
    NOTES_CSV,
    RAW_TSV,
    areas,
    table,
    totals,
)
from tests.conftest import app_client, role_headers

#: the decoded columns, in the printed order after the name (17 figures per printed row)
FIGURES = (
    "towns", "towns_with_plans", "town_plan_rate", "depots", "stock", "towns_with_shelters",
    "town_shelter_coverage", "villages", "village_plan_rate", "village_drills",
    "village_drill_people", "villages_with_shelters", "village_shelter_coverage",
    "villages_with_broadcasts", "villages_with_broadcasts_dup", "broadcasts",
)  # fmt: skip
#: columns whose printed cells (as decoded) add up to the printed totals row
AGREE = ("towns", "depots", "towns_with_shelters")
#: count columns whose printed totals row does not add up (said so in the notes)
DISAGREE = (
    "stock", "villages", "village_drills", "village_drill_people", "villages_with_shelters",
    "villages_with_broadcasts", "broadcasts",
)  # fmt: skip


def _raw_rows() -> list[list[str]]:
    """The table's 21 printed rows (20 areas and 合计), cells as printed."""
    lines = RAW_TSV.read_text(encoding="utf-8").splitlines()
    rows = [line.split("\t") for line in lines if re.match(r"^\S+\t[\d/]", line)]
    return [r for r in rows if len(r) == 17]


def _printed_value(cell: str) -> str:
    """What a printed cell reads as, with no judgement: '/' is empty, '%' dropped."""
    cell = cell.strip()
    return "" if cell == "/" else cell.removesuffix("%")


def _notes() -> dict[tuple[str, str], dict[str, str]]:
    with NOTES_CSV.open(encoding="utf-8", newline="") as f:
        return {(r["row"], r["column"]): r for r in csv.DictReader(f)}


def test_every_cell_is_the_printed_one_or_a_noted_decision() -> None:
    """Traceability: each decoded figure equals its printed cell, unless a note per cell says
    what was printed, what was decided and why; every column has a note."""
    raw = _raw_rows()
    decoded = table()
    notes = _notes()
    assert len(raw) == len(decoded) == 21
    for printed, row in zip(raw, decoded, strict=True):
        assert printed[0] == row["printed_name"]
        for col, cell in zip(FIGURES, printed[1:], strict=True):
            note = notes.get((row["row"], col))
            if note is None:
                assert row[col] == _printed_value(cell), (row["row"], col)
            else:
                assert note["printed"] == cell.strip(), (row["row"], col)
                assert row[col] == note["value"], (row["row"], col)
        name_note = notes.get((row["row"], "printed_name"))
        if row["kind"] == "zone" or row["printed_name"] == "高陵" and row["row"] == "14":
            assert name_note is not None and name_note["value"] == row["area_code"]
    for col in ("row", "printed_name", "area_code", *FIGURES):
        assert ("*", col) in notes, col
    # the changed cells are exactly the noted ones (no silent edit elsewhere)
    changed = {
        (row["row"], col)
        for printed, row in zip(raw, decoded, strict=True)
        for col, cell in zip(FIGURES, printed[1:], strict=True)
        if row[col] != _printed_value(cell)
    }
    assert changed == {
        ("15", "towns"), ("16", "towns"), ("16", "towns_with_plans"), ("16", "depots"),
        ("16", "stock"), ("17", "towns"), ("17", "towns_with_plans"), ("18", "towns"),
        ("18", "towns_with_plans"), ("18", "depots"), ("18", "stock"),
    }  # fmt: skip


def test_columns_sum_to_the_totals_row_where_the_source_agrees() -> None:
    """Towns 204, depots 489 and towns with a shelter 118 add up; the stock, village, drill
    and broadcast columns do not in the source itself (the notes say by how much)."""
    rows = [r for r in table() if r["kind"] != "total"]
    total = totals()
    assert len(rows) == 20

    def col_sum(col: str) -> int:
        return sum(int(r[col]) for r in rows if r[col] != "")

    for col in AGREE:
        assert col_sum(col) == int(total[col]), col
    assert col_sum("towns") == 204 and col_sum("depots") == 489
    for col in DISAGREE:
        assert col_sum(col) != int(total[col]), col
    assert col_sum("stock") == 175_014 and int(total["stock"]) == CITY_STOCK_TOTAL
    assert int(total["broadcasts"]) - col_sum("broadcasts") == 50
    # the plan rate of the totals row (99.5 %) is the corrected cells' 203 / 204
    assert round(100 * col_sum("towns_with_plans") / col_sum("towns"), 1) == Decimal("99.5")
    # the 13 districts and 7 zones
    assert [r["kind"] for r in rows].count("district") == 13
    assert {r["area_code"] for r in rows if r["kind"] == "zone"} == {
        "GXQ", "JKQ", "QJXQ", "GWQ", "HTJD", "CBQ", "XXXQ",
    }  # fmt: skip


@pytest.fixture(scope="module")
async def ro(demo_ro: Settings) -> AsyncIterator[asyncpg.Connection]:
    """A read-only connection to the shared demo copy."""
    conn = await asyncpg.connect(demo_ro.database_url)
    yield conn
    await conn.close()


async def test_demo_organisations(ro: asyncpg.Connection) -> None:
    """28 departments, 13 districts with the real boundaries, 7 synthetic zones inside their
    districts, 204 towns whose boundaries partition the areas; 15 categories mapped."""
    kinds = dict(await ro.fetch("SELECT kind, count(*) FROM organisations GROUP BY kind"))
    assert kinds == {"department": 28, "district": 13, "zone": 7, "town": 204}
    same = await ro.fetchval(
        "SELECT count(*) FROM organisations o JOIN districts d ON d.code = o.code "
        "WHERE o.kind = 'district' AND ST_Equals(o.geom, d.geom) AND NOT o.synthetic"
    )
    assert same == 13
    outside = await ro.fetch(
        "SELECT z.code FROM organisations z WHERE z.kind = 'zone' AND (NOT z.synthetic OR "
        "NOT EXISTS (SELECT 1 FROM districts d WHERE ST_Covers(ST_Buffer(d.geom, 1e-6), z.geom)))"
    )
    assert outside == []
    per_area = dict(
        await ro.fetch(
            "SELECT parent, count(*) FROM organisations WHERE kind = 'town' GROUP BY parent"
        )
    )
    assert per_area == {a.code: a.towns for a in areas()}
    # towns partition their area: no overlaps, and together they cover it (to 1e-6 of area)
    overlap = await ro.fetchval(
        "SELECT coalesce(sum(ST_Area(ST_Intersection(a.geom, b.geom))), 0) FROM organisations a "
        "JOIN organisations b ON a.kind = 'town' AND b.kind = 'town' AND a.code < b.code "
        "AND ST_Intersects(a.geom, b.geom)"
    )
    city = await ro.fetchval("SELECT sum(ST_Area(geom)) FROM districts")
    assert overlap < 1e-6 * city
    towns_area = await ro.fetchval(
        "SELECT sum(ST_Area(geom)) FROM organisations WHERE kind = 'town'"
    )
    assert abs(towns_area - city) < 1e-5 * city
    cats = dict(await ro.fetch("SELECT category, department FROM category_departments"))
    assert cats == CATEGORY_DEPARTMENTS
    assert cats["gas"] == cats["heat_supply"] == "CGJ" and cats["high_rise"] == "ZJJ"
    assert cats["hazardous_chemicals"] == cats["industrial"] == "YJJ"


async def test_area_statistics_loaded_as_the_csv(ro: asyncpg.Connection) -> None:
    """area_statistics holds the CSV's 20 rows, figure for figure."""
    rows = {r["area"]: r for r in await ro.fetch("SELECT * FROM area_statistics")}
    assert len(rows) == 20
    for r in table():
        if r["kind"] == "total":
            continue
        db = rows[r["area_code"]]
        assert db["row_no"] == int(r["row"]) and db["printed_name"] == r["printed_name"]
        for col in AREA_COLUMNS:
            want = None if r[col] == "" else Decimal(r[col])
            got = None if db[col] is None else Decimal(db[col])
            assert got == want, (r["area_code"], col)


async def test_every_unit_hazard_and_shelter_has_its_town(ro: asyncpg.Connection) -> None:
    """Set by location: the town covers the row, and lies in the row's district."""
    for layer in ("risk_units", "hidden_hazards", "shelters"):
        missing = await ro.fetchval(f"SELECT count(*) FROM {layer} WHERE town IS NULL")
        assert missing == 0, layer
        wrong = await ro.fetchval(
            f"SELECT count(*) FROM {layer} x JOIN organisations t ON t.code = x.town "
            "WHERE NOT ST_Covers(ST_Buffer(t.geom, 1e-6), ST_PointOnSurface(x.geom))"
        )
        assert wrong == 0, layer
        elsewhere = await ro.fetchval(
            f"SELECT count(*) FROM {layer} x JOIN organisations t ON t.code = x.town "
            "JOIN organisations a ON a.code = t.parent "
            "WHERE x.district <> a.code AND NOT (a.kind = 'zone' AND "
            "ST_Covers(ST_Buffer((SELECT geom FROM districts WHERE code = x.district), 1e-6), "
            "a.geom))"
        )
        assert elsewhere == 0, layer


async def test_depots_stock_and_broadcasts_per_area_follow_the_table(
    ro: asyncpg.Connection,
) -> None:
    """Depots per area = the table's column (489); the area's own depots hold its stock; the
    9 city depots the rest of 325,966; broadcasts per area = the table where legible."""
    depots = dict(await ro.fetch("SELECT org, count(*) FROM reserve_depots GROUP BY org"))
    assert {a.code: depots.get(a.code, 0) for a in areas()} == {a.code: a.depots for a in areas()}
    assert sum(depots.values()) == 489 and None not in depots
    stock = dict(
        await ro.fetch(
            "SELECT d.org, sum(s.quantity) FROM reserve_depots d "
            "JOIN depot_stock s ON s.depot_id = d.id WHERE d.level <> 'city' GROUP BY d.org"
        )
    )
    assert {a.code: stock.get(a.code, 0) for a in areas()} == {a.code: a.stock for a in areas()}
    city = await ro.fetch(
        "SELECT d.org, sum(s.quantity) AS q FROM reserve_depots d "
        "JOIN depot_stock s ON s.depot_id = d.id WHERE d.level = 'city' GROUP BY d.org"
    )
    assert sorted(r["org"] for r in city) == sorted(CITY_DEPOT_AREAS)
    assert sum(r["q"] for r in city) == CITY_STOCK_TOTAL - sum(a.stock for a in areas())
    assert await ro.fetchval("SELECT sum(quantity) FROM depot_stock") == CITY_STOCK_TOTAL
    placed = dict(
        await ro.fetch("SELECT onemap_area_at(geom), count(*) FROM broadcasts GROUP BY 1")
    )
    for a in areas():
        if a.broadcasts is not None:
            assert placed.get(a.code, 0) == a.broadcasts, a.code
    assert sum(placed.values()) == 2_248 and None not in placed


async def test_town_follows_an_edit(demo_db: Settings) -> None:
    """Moving a unit moves it to the town at its new place (the trigger, not the importer)."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        target = await conn.fetchrow(
            "SELECT code, ST_PointOnSurface(geom) AS p FROM organisations WHERE code = '610113001'"
        )
        code = await conn.fetchval(
            "SELECT code FROM risk_units WHERE town <> '610113001' ORDER BY code LIMIT 1"
        )
        await conn.execute("UPDATE risk_units SET geom = $2 WHERE code = $1", code, target["p"])
        assert await conn.fetchval("SELECT town FROM risk_units WHERE code = $1", code) == (
            "610113001"
        )
    finally:
        await conn.close()


async def test_reported_hazard_gets_its_town(demo_db: Settings) -> None:
    """A hidden hazard reported through the API (no town given) is placed in the town of
    its location; a depot moved into a zone is managed by the zone."""
    headers = await role_headers(demo_db)
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        town = await conn.fetchrow(
            "SELECT code, ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) "
            "AS lat FROM organisations WHERE code = 'GXQ002'"
        )
        unit = await conn.fetchval("SELECT code FROM risk_units ORDER BY code LIMIT 1")
        async with app_client(demo_db, headers["editor"]) as client:
            r = await client.post(
                "/hidden-hazards",
                json={"code": "HH-TOWN", "name": "消防通道堵塞", "risk_unit": unit,
                      "severity": "general", "lon": town["lon"], "lat": town["lat"]},
            )  # fmt: skip
            assert r.status_code == 201, r.text
        got = await conn.fetchval("SELECT town FROM hidden_hazards WHERE code = 'HH-TOWN'")
        assert got == "GXQ002"
        depot = await conn.fetchval(
            "SELECT code FROM reserve_depots WHERE org = '610113' ORDER BY code LIMIT 1"
        )
        await conn.execute(
            "UPDATE reserve_depots SET geom = ST_SetSRID(ST_MakePoint($2, $3), 4326) "
            "WHERE code = $1",
            depot, town["lon"], town["lat"],
        )  # fmt: skip
        assert await conn.fetchval("SELECT org FROM reserve_depots WHERE code = $1", depot) == "GXQ"
    finally:
        await conn.close()


async def test_reload_over_an_older_demo_is_exact(demo_db: Settings) -> None:
    """Loading the demo over an older one (other stock rows, an edited organisation) leaves
    the seed's totals exact and the organisations as built."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await conn.execute(
            "INSERT INTO depot_stock (depot_id, item_type, quantity, unit) "
            "SELECT id, '旧物资', 5, '件' FROM reserve_depots ORDER BY id LIMIT 3"
        )
        await conn.execute("UPDATE organisations SET name = '旧名' WHERE code = '610113001'")
        await conn.execute("DELETE FROM onemap_meta WHERE key = 'demo'")
        await load_demo(demo_db, show_progress=False)
        assert await conn.fetchval("SELECT sum(quantity) FROM depot_stock") == CITY_STOCK_TOTAL
        assert (
            await conn.fetchval("SELECT name FROM organisations WHERE code = '610113001'") != "旧名"
        )
        assert await conn.fetchval("SELECT count(*) FROM reserve_depots WHERE org IS NULL") == 0
    finally:
        await conn.close()
