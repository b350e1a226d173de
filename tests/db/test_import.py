"""import_file: every format and CRS, validation by row and field, all-or-nothing, idempotence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pyproj
import pytest
import shapely

from api.crs import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_bd09, wgs84_to_gcj02
from api.errors import BadRequest, NotFound
from api.importer import ImportRejected, ImportResult, import_file
from api.layers import CHILD_TABLES
from api.settings import Settings
from tests.support import files as F

BOX = "outside the city's area (lon 107..110, lat 33.3..34.9)"


async def run(settings: Settings, path: Path, layer: str, **kw: Any) -> ImportResult:
    """import_file on a connection of its own."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return await import_file(conn, path, layer, settings=settings, **kw)
    finally:
        await conn.close()


async def fetch(settings: Settings, sql: str, *args: Any) -> list[dict[str, Any]]:
    """Rows as dicts."""
    conn = await asyncpg.connect(settings.database_url)
    try:
        return [dict(r) for r in await conn.fetch(sql, *args)]
    finally:
        await conn.close()


async def districts(settings: Settings, tmp: Path) -> None:
    """Load the two test districts through the import path itself."""
    result = await run(settings, F.districts_geojson(tmp / "districts.geojson"), "districts")
    assert (result.inserted, result.rejected) == (2, 0)


async def snapshot(settings: Settings, table: str) -> list[dict[str, Any]]:
    """Every column of every row, geometry as WKT, in id order."""
    rows = await fetch(
        settings, f"SELECT *, ST_AsText(geom) AS wkt FROM {table} ORDER BY id"
    )  # test-only SQL, fixed names
    for r in rows:
        r.pop("geom", None)
    return rows


async def catalog(settings: Settings, table: str) -> tuple[list[str], list[str]]:
    """Index and constraint definitions of a table."""
    idx = await fetch(
        settings, "SELECT indexdef FROM pg_indexes WHERE tablename = $1 ORDER BY 1", table
    )
    con = await fetch(
        settings,
        "SELECT conname || ' ' || pg_get_constraintdef(oid) AS d FROM pg_constraint "
        "WHERE conrelid = to_regclass($1) ORDER BY 1",
        table,
    )
    return [r["indexdef"] for r in idx], [r["d"] for r in con]


async def version(settings: Settings, layer: str) -> int:
    """The layer's version counter."""
    rows = await fetch(settings, "SELECT version FROM layer_versions WHERE layer = $1", layer)
    return int(rows[0]["version"])


async def test_child_tables_match_schema(db_conn: asyncpg.Connection) -> None:
    """Every child-table field is a column; the parent id and key make a unique constraint."""
    for child in CHILD_TABLES.values():
        cols = {
            r["column_name"]
            for r in await db_conn.fetch(
                "SELECT column_name FROM information_schema.columns WHERE table_name = $1",
                child.name,
            )
        }
        assert {f.name for f in child.fields} | {child.parent_id} <= cols, child.name
        uniques = await db_conn.fetch(
            "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint "
            "WHERE conrelid = to_regclass($1) AND contype = 'u'",
            child.name,
        )
        key = ", ".join([child.parent_id, *child.key])
        assert [r["d"] for r in uniques] == [f"UNIQUE ({key})"]


async def test_geojson_points_with_derived_districts(empty_db: Settings, tmp_path: Path) -> None:
    """WGS84 GeoJSON: values as given, districts from the location, source import:<file>."""
    await districts(empty_db, tmp_path)
    assert await fetch(empty_db, "SELECT code, name, adcode FROM districts ORDER BY code") == [
        {"code": "610102", "name": "新城区", "adcode": "610102"},
        {"code": "610103", "name": "碑林区", "adcode": "610103"},
    ]
    pts = [(108.95, 34.25), (109.05, 34.25), (109.0, 34.25), (108.5, 34.0)]
    feats = [
        F.feature(
            {"code": f"B{i}", "name": f"广播{i}", "kind": "radio", "status": "offline"},
            shapely.Point(x, y),
        )
        for i, (x, y) in enumerate(pts, start=1)
    ]
    feats[1]["properties"]["kind"] = "LED_Screen"  # choices match case-insensitively
    del feats[2]["properties"]["status"]  # the column default applies
    path = F.geojson(tmp_path / "b.geojson", feats)
    result = await run(empty_db, path, "broadcasts")
    assert (result.total, result.inserted, result.updated, result.rejected) == (4, 4, 0, 0)
    assert (result.format, result.crs, result.source) == (
        "geojson",
        "EPSG:4326",
        "import:b.geojson",
    )
    rows = await fetch(
        empty_db,
        "SELECT code, name, kind, status, district, source, ST_X(geom) x, ST_Y(geom) y "
        "FROM broadcasts ORDER BY code",
    )
    assert rows == [
        {
            "code": "B1",
            "name": "广播1",
            "kind": "radio",
            "status": "offline",
            "district": "610102",
            "source": "import:b.geojson",
            "x": 108.95,
            "y": 34.25,
        },
        {
            "code": "B2",
            "name": "广播2",
            "kind": "led_screen",
            "status": "offline",
            "district": "610103",
            "source": "import:b.geojson",
            "x": 109.05,
            "y": 34.25,
        },
        {
            "code": "B3",
            "name": "广播3",
            "kind": "radio",
            "status": "online",
            "district": "610102",
            "source": "import:b.geojson",
            "x": 109.0,
            "y": 34.25,
        },
        {
            "code": "B4",
            "name": "广播4",
            "kind": "radio",
            "status": "offline",
            "district": None,
            "source": "import:b.geojson",
            "x": 108.5,
            "y": 34.0,
        },
    ]


async def test_gpkg_in_cgcs2000_gauss_kruger_zone(empty_db: Settings, tmp_path: Path) -> None:
    """A GeoPackage in EPSG:4545 (its own srs): points and polygons land where they belong."""
    fwd = pyproj.Transformer.from_crs(4326, 4545, always_xy=True)
    lonlat = [(108.9423, 34.2610), (108.8, 34.1)]
    xy = [fwd.transform(x, y) for x, y in lonlat]
    square = shapely.box(xy[1][0], xy[1][1], xy[1][0] + 500, xy[1][1] + 500)
    records = [
        {"code": "RU1", "name": "钟楼", "category": "crowded_place", "registered_level": "major"},
        {"code": "RU2", "name": "工地", "category": "construction", "registered_level": "low"},
    ]
    path = F.gpkg(tmp_path / "ru.gpkg", records, [shapely.Point(xy[0]), square], crs="EPSG:4545")
    result = await run(empty_db, path, "risk_units")
    assert (result.inserted, result.crs, result.format) == (2, "EPSG:4545", "gpkg")
    rows = await fetch(
        empty_db,
        "SELECT code, category, registered_level, control_level, GeometryType(geom) t, "
        "ST_AsBinary(geom) wkb FROM risk_units ORDER BY code",
    )
    assert [
        (r["code"], r["category"], r["registered_level"], r["control_level"], r["t"]) for r in rows
    ] == [
        ("RU1", "crowded_place", "major", "compliant", "POINT"),
        ("RU2", "construction", "low", "compliant", "MULTIPOLYGON"),
    ]
    back = pyproj.Transformer.from_crs(4545, 4326, always_xy=True)
    for r, g in zip(rows, [shapely.Point(xy[0]), square], strict=True):
        stored = shapely.get_coordinates(shapely.from_wkb(r["wkb"]))
        src = shapely.get_coordinates(g)
        want = np.column_stack(back.transform(src[:, 0], src[:, 1]))
        assert np.abs(stored - want).max() < 1e-12
    assert shapely.get_coordinates(shapely.from_wkb(rows[0]["wkb"]))[0] == pytest.approx(
        [108.9423, 34.2610], abs=1e-9
    )


async def test_zipped_shapefile_lines_cgcs2000(empty_db: Settings, tmp_path: Path) -> None:
    """A zipped Shapefile (.prj EPSG:4490): LineStrings promoted, 10-char dBase names matched."""
    lines = [
        shapely.LineString([(108.90, 34.20), (108.95, 34.22)]),
        shapely.LineString([(108.91, 34.21), (108.92, 34.25), (108.99, 34.26)]),
    ]
    records = [
        {"code": "L1", "name": "燃气干管", "kind": "gas", "diameter_mm": 300.0, "laid_year": 1998},
        {"code": "L2", "name": "供水管", "kind": "water", "diameter_mm": 600.0, "laid_year": 2010},
    ]
    path = F.shapefile_zip(tmp_path / "lines.zip", records, lines, crs="EPSG:4490")
    result = await run(empty_db, path, "lifelines")
    assert (result.inserted, result.format, result.crs, result.ignored_columns) == (
        2,
        "shapefile_zip",
        "EPSG:4490",
        [],
    )
    rows = await fetch(
        empty_db,
        "SELECT code, name, kind, diameter_mm, laid_year, GeometryType(geom) t, "
        "ST_NumPoints(ST_GeometryN(geom, 1)) n FROM lifelines ORDER BY code",
    )
    assert rows == [
        {
            "code": "L1",
            "name": "燃气干管",
            "kind": "gas",
            "diameter_mm": 300.0,
            "laid_year": 1998,
            "t": "MULTILINESTRING",
            "n": 2,
        },
        {
            "code": "L2",
            "name": "供水管",
            "kind": "water",
            "diameter_mm": 600.0,
            "laid_year": 2010,
            "t": "MULTILINESTRING",
            "n": 3,
        },
    ]


async def test_csv_in_gcj02_gb18030(empty_db: Settings, tmp_path: Path) -> None:
    """A GBK CSV of GCJ-02 lng/latitude: --crs GCJ-02 brings it back to WGS84 to 1e-9 degree."""
    wgs = np.array([[108.95, 34.25], [109.05, 34.27]])
    gx, gy = wgs84_to_gcj02(wgs[:, 0], wgs[:, 1])
    path = F.csv_file(
        tmp_path / "shelters.csv",
        ["code", "name", "type", "capacity", "lng", "latitude"],
        [
            ["S1", "城墙避难所", "emergency", "1200", gx[0], gy[0]],
            ["S2", "公园避难所", "central", "30000", gx[1], gy[1]],
        ],
        encoding="gb18030",
    )
    result = await run(empty_db, path, "shelters", crs="gcj02")
    assert (result.inserted, result.crs, result.format) == (2, "GCJ-02", "csv")
    rows = await fetch(
        empty_db,
        "SELECT code, name, type, capacity, ST_X(geom) x, ST_Y(geom) y FROM shelters ORDER BY code",
    )
    assert [(r["code"], r["name"], r["type"], r["capacity"]) for r in rows] == [
        ("S1", "城墙避难所", "emergency", 1200),
        ("S2", "公园避难所", "central", 30000),
    ]
    for r, (x, y) in zip(rows, wgs, strict=True):
        assert r["x"] == pytest.approx(x, abs=1e-9) and r["y"] == pytest.approx(y, abs=1e-9)


async def test_geojson_in_bd09(empty_db: Settings, tmp_path: Path) -> None:
    """BD-09 (Baidu) coordinates with crs='BD-09'."""
    bx, by = wgs84_to_bd09(108.95, 34.25)
    path = F.geojson(
        tmp_path / "v.geojson",
        [
            F.feature(
                {"code": "V1", "name": "小学", "kind": "school", "occupants": 900},
                shapely.Point(float(bx), float(by)),
            )
        ],
    )
    result = await run(empty_db, path, "vulnerable_sites", crs="BD-09")
    assert (result.inserted, result.crs) == (1, "BD-09")
    rows = await fetch(empty_db, "SELECT ST_X(geom) x, ST_Y(geom) y FROM vulnerable_sites")
    assert rows[0]["x"] == pytest.approx(108.95, abs=1e-9)
    assert rows[0]["y"] == pytest.approx(34.25, abs=1e-9)
    # and the reverse direction the test relies on is the library's own inverse
    assert float(bd09_to_wgs84(bx, by)[0]) == pytest.approx(108.95, abs=1e-9)


async def test_geojson_crs_member_and_override(empty_db: Settings, tmp_path: Path) -> None:
    """A GeoJSON's legacy crs member is honoured; --crs overrides it."""
    fwd = pyproj.Transformer.from_crs(4326, 4545, always_xy=True)
    x, y = fwd.transform(108.95, 34.25)
    path = F.geojson(
        tmp_path / "t.geojson",
        [
            F.feature(
                {
                    "code": "T1",
                    "name": "队",
                    "kind": "professional",
                    "speciality": "fire",
                    "headcount": 40,
                },
                shapely.Point(x, y),
            )
        ],
        crs="urn:ogc:def:crs:EPSG::4545",
    )
    result = await run(empty_db, path, "rescue_teams")
    assert (result.inserted, result.crs) == (1, "EPSG:4545")
    gx, gy = wgs84_to_gcj02(108.95, 34.25)
    path2 = F.geojson(
        tmp_path / "t2.geojson",
        [
            F.feature(
                {
                    "code": "T1",
                    "name": "队",
                    "kind": "professional",
                    "speciality": "fire",
                    "headcount": 40,
                },
                shapely.Point(float(gx), float(gy)),
            )
        ],
        crs="EPSG:4326",
    )
    again = await run(empty_db, path2, "rescue_teams", crs="gcj02")
    assert (again.inserted, again.crs) == (0, "GCJ-02")
    rows = await fetch(empty_db, "SELECT ST_X(geom) x, ST_Y(geom) y FROM rescue_teams")
    assert rows[0]["x"] == pytest.approx(108.95, abs=1e-8)
    assert float(gcj02_to_wgs84(gx, gy)[1]) == pytest.approx(rows[0]["y"], abs=1e-8)


async def test_bad_rows_reported_by_row_and_field(empty_db: Settings, tmp_path: Path) -> None:
    """Every problem of every row, by row number and field; nothing is written."""
    await districts(empty_db, tmp_path)
    header = ["code", "name", "kind", "district", "lon", "lat"]
    rows = [
        ["B1", "ok", "radio", "", 108.95, 34.25],
        ["", "no code", "radio", "", 108.95, 34.25],
        ["B3", "bad kind", "tv", "", 108.95, 34.25],
        ["B4", "bad lon", "radio", "", "abc", 34.25],
        ["B5", "nan", "radio", "", "NaN", 34.25],
        ["B6", "far away", "radio", "", 120.0, 30.0],
        ["B1", "duplicate", "radio", "", 108.96, 34.26],
        ["B8", "unknown district", "radio", "朝阳区", 108.95, 34.25],
        ["B9", "by name", "radio", "碑林区", 109.05, 34.25],
    ]
    path = F.csv_file(tmp_path / "bad.csv", header, rows)
    with pytest.raises(ImportRejected) as info:
        await run(empty_db, path, "broadcasts")
    assert info.value.status == 400
    assert info.value.errors == [
        {"row": 2, "field": "code", "reason": "required"},
        {"row": 3, "field": "kind", "reason": "not one of: loudspeaker, led_screen, radio"},
        {"row": 4, "field": "geometry", "reason": "lon/lat is not a number"},
        {
            "row": 5,
            "field": "geometry",
            "reason": "coordinates are not finite numbers (NaN or Infinity)",
        },
        {"row": 6, "field": "geometry", "reason": BOX},
        {"row": 7, "field": "code", "reason": "duplicate code (first in row 1)"},
        {
            "row": 8,
            "field": "district",
            "reason": "unknown district (give its code, adcode or name)",
        },
    ]
    assert (info.value.total, info.value.rejected) == (9, 7)
    assert "7 of 9 rows are invalid (row 2, code: required)" in info.value.detail
    assert await fetch(empty_db, "SELECT count(*) AS n FROM broadcasts") == [{"n": 0}]

    # skip: the good rows go in, the bad ones are reported
    result = await run(empty_db, path, "broadcasts", on_error="skip")
    assert (result.inserted, result.rejected, len(result.errors)) == (2, 7, 7)
    got = await fetch(empty_db, "SELECT code, district FROM broadcasts ORDER BY code")
    assert got == [{"code": "B1", "district": "610102"}, {"code": "B9", "district": "610103"}]


async def test_types_minimum_and_required(empty_db: Settings, tmp_path: Path) -> None:
    """Whole numbers, minimums, required columns; a missing required column is a 400 at once."""
    path = F.geojson(
        tmp_path / "teams.geojson",
        [
            F.feature(
                {
                    "code": "T1",
                    "name": "a",
                    "kind": "social",
                    "speciality": "rescue",
                    "headcount": "12",
                },
                shapely.Point(108.9, 34.2),
            ),
            F.feature(
                {
                    "code": "T2",
                    "name": "b",
                    "kind": "social",
                    "speciality": "rescue",
                    "headcount": 12.5,
                },
                shapely.Point(108.9, 34.2),
            ),
            F.feature(
                {
                    "code": "T3",
                    "name": "c",
                    "kind": "social",
                    "speciality": "rescue",
                    "headcount": -5,
                },
                shapely.Point(108.9, 34.2),
            ),
            F.feature(
                {"code": "T4", "name": "d", "kind": "social", "speciality": None, "headcount": 3},
                shapely.Point(108.9, 34.2),
            ),
            F.feature(
                {"code": "T5", "name": "e", "kind": "social", "speciality": "x", "headcount": 3},
                None,
            ),
        ],
    )
    with pytest.raises(ImportRejected) as info:
        await run(empty_db, path, "rescue_teams")
    assert info.value.errors == [
        {"row": 2, "field": "headcount", "reason": "not a whole number"},
        {"row": 3, "field": "headcount", "reason": "below the minimum 0"},
        {"row": 4, "field": "speciality", "reason": "required"},
        {"row": 5, "field": "geometry", "reason": "geometry is missing"},
    ]
    no_kind = F.geojson(
        tmp_path / "nokind.geojson",
        [F.feature({"code": "T1", "name": "a"}, shapely.Point(108.9, 34.2))],
    )
    with pytest.raises(BadRequest, match="no column for the required field") as e2:
        await run(empty_db, no_kind, "rescue_teams")
    assert "kind, speciality, headcount" in str(e2.value)


async def test_wrong_geometry_type_and_unknown_layer(empty_db: Settings, tmp_path: Path) -> None:
    """A line into a point layer, a point into a line layer; unknown or service-only layers."""
    line = shapely.LineString([(108.9, 34.2), (108.95, 34.25)])
    path = F.geojson(
        tmp_path / "g.geojson",
        [
            F.feature({"code": "B1", "name": "x"}, line),
            F.feature(
                {"code": "B2", "name": "y"}, shapely.MultiPoint([(108.9, 34.2), (109, 34.3)])
            ),
            F.feature({"code": "B3", "name": "z"}, shapely.MultiPoint([(108.9, 34.2)])),
        ],
    )
    with pytest.raises(ImportRejected) as info:
        await run(empty_db, path, "broadcasts")
    assert info.value.errors == [
        {"row": 1, "field": "geometry", "reason": "a LineString, but this layer takes Point"},
        {
            "row": 2,
            "field": "geometry",
            "reason": "a MultiPoint of several points; this layer takes one Point",
        },
    ]
    pts = F.geojson(
        tmp_path / "p.geojson",
        [F.feature({"code": "L1", "name": "x", "kind": "gas"}, shapely.Point(108.9, 34.2))],
    )
    with pytest.raises(ImportRejected) as info2:
        await run(empty_db, pts, "lifelines")
    assert info2.value.errors == [
        {
            "row": 1,
            "field": "geometry",
            "reason": "a Point, but this layer takes LineString or MultiLineString",
        },
    ]
    for layer in ("no_such_layer", "alarms", "readings"):
        with pytest.raises(NotFound):
            await run(empty_db, pts, layer)


async def test_failed_import_leaves_table_exactly_as_it_was(
    empty_db: Settings, tmp_path: Path
) -> None:
    """A bad row, or a row the database refuses, rolls everything back: rows and version."""
    good = [
        F.feature(
            {"code": f"L{i}", "name": f"n{i}", "kind": "gas", "diameter_mm": 100 * i},
            shapely.LineString([(108.9, 34.2), (108.9 + i / 100, 34.25)]),
        )
        for i in (1, 2, 3)
    ]
    await run(empty_db, F.geojson(tmp_path / "a.geojson", good), "lifelines")
    before = await snapshot(empty_db, "lifelines")
    v0 = await version(empty_db, "lifelines")
    changed = [dict(f, properties=dict(f["properties"], name="changed")) for f in good]
    # a python-side rejection
    bad = [*changed, F.feature({"code": "L9", "name": "x", "kind": "steam"}, good[0]["geometry"])]
    with pytest.raises(ImportRejected):
        await run(empty_db, F.geojson(tmp_path / "b.geojson", bad), "lifelines")
    # a database-side rejection: diameter_mm > 0 is a CHECK of the table (minimum 0 passes)
    zero = [
        *changed,
        F.feature(
            {"code": "L4", "name": "z", "kind": "gas", "diameter_mm": 0}, good[0]["geometry"]
        ),
    ]
    with pytest.raises(ImportRejected) as info:
        await run(empty_db, F.geojson(tmp_path / "c.geojson", zero), "lifelines")
    assert info.value.errors == [
        {
            "row": 4,
            "field": "diameter_mm",
            "reason": "breaks the rule ((diameter_mm > (0)::double precision))",
        },
    ]
    assert await snapshot(empty_db, "lifelines") == before
    assert await version(empty_db, "lifelines") == v0


async def test_bulk_load_and_its_rollback(empty_db: Settings, tmp_path: Path) -> None:
    """Into an empty table in bulk: indexes and keys rebuilt as they were; a refused row
    rolls the bulk load back and is reported through the staging table."""
    bulk = empty_db.model_copy(update={"import_bulk_min_rows": 2})
    before = await catalog(bulk, "lifelines")
    geom = shapely.LineString([(108.9, 34.2), (108.95, 34.25)])
    feats = [
        F.feature({"code": f"L{i}", "name": "n", "kind": "power", "voltage_kv": 110}, geom)
        for i in range(5)
    ]
    bad = [*feats, F.feature({"code": "LX", "name": "n", "kind": "power", "voltage_kv": 0}, geom)]
    with pytest.raises(ImportRejected) as info:
        await run(bulk, F.geojson(tmp_path / "bad.geojson", bad), "lifelines")
    assert [(e["row"], e["field"]) for e in info.value.errors] == [(6, "voltage_kv")]
    assert await catalog(bulk, "lifelines") == before
    assert await fetch(bulk, "SELECT count(*) AS n FROM lifelines") == [{"n": 0}]
    v0 = await version(bulk, "lifelines")
    result = await run(bulk, F.geojson(tmp_path / "ok.geojson", feats), "lifelines")
    assert (result.inserted, result.updated) == (5, 0)
    assert await catalog(bulk, "lifelines") == before
    assert await version(bulk, "lifelines") == v0 + 1
    rows = await fetch(bulk, "SELECT code, voltage_kv, source FROM lifelines ORDER BY id")
    assert rows == [
        {"code": f"L{i}", "voltage_kv": 110.0, "source": "import:ok.geojson"} for i in range(5)
    ]
    again = await run(bulk, F.geojson(tmp_path / "ok.geojson", feats), "lifelines")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)


async def test_reimport_is_idempotent(empty_db: Settings, tmp_path: Path) -> None:
    """The same file again changes nothing (no version bump); one changed value, one update."""
    feats = [
        F.feature(
            {"code": f"V{i}", "name": f"school {i}", "kind": "school", "occupants": i},
            shapely.Point(108.9 + i / 100, 34.2),
        )
        for i in range(1, 4)
    ]
    path = F.geojson(tmp_path / "v.geojson", feats)
    first = await run(empty_db, path, "vulnerable_sites")
    assert (first.inserted, first.updated, first.unchanged) == (3, 0, 0)
    before = await snapshot(empty_db, "vulnerable_sites")
    v1 = await version(empty_db, "vulnerable_sites")
    second = await run(empty_db, path, "vulnerable_sites")
    assert (second.inserted, second.updated, second.unchanged) == (0, 0, 3)
    assert await snapshot(empty_db, "vulnerable_sites") == before
    assert await version(empty_db, "vulnerable_sites") == v1
    feats[1]["properties"]["occupants"] = 50
    feats.append(
        F.feature({"code": "V9", "name": "new", "kind": "hospital"}, shapely.Point(108.99, 34.3))
    )
    third = await run(empty_db, F.geojson(tmp_path / "v2.geojson", feats), "vulnerable_sites")
    assert (third.inserted, third.updated, third.unchanged) == (1, 1, 2)
    # INSERT ... ON CONFLICT fires the insert and the update statement triggers: two bumps
    assert await version(empty_db, "vulnerable_sites") == v1 + 2
    rows = await fetch(
        empty_db, "SELECT code, occupants, source FROM vulnerable_sites ORDER BY code"
    )
    assert rows == [
        {"code": "V1", "occupants": 1, "source": "import:v.geojson"},
        {"code": "V2", "occupants": 50, "source": "import:v2.geojson"},
        {"code": "V3", "occupants": 3, "source": "import:v.geojson"},
        {"code": "V9", "occupants": None, "source": "import:v2.geojson"},
    ]
    assert await fetch(empty_db, "SELECT count(*) AS n FROM vulnerable_sites") == [{"n": 4}]


async def test_child_tables_by_parent_code(empty_db: Settings, tmp_path: Path) -> None:
    """depot_stock, hazard_substances, enterprise_capacity: parent codes resolved, upserted."""
    depots = F.geojson(
        tmp_path / "d.geojson",
        [
            F.feature({"code": c, "name": c, "level": "city"}, shapely.Point(108.9, 34.2))
            for c in ("D1", "D2")
        ],
    )
    await run(empty_db, depots, "reserve_depots")
    stock = F.csv_file(
        tmp_path / "stock.csv",
        ["depot_code", "item_type", "quantity", "unit"],
        [["D1", "tent", 100, "piece"], ["D1", "water", 500, "bottle"], ["D2", "tent", 7, ""]],
    )
    result = await run(empty_db, stock, "depot_stock")
    assert (result.inserted, result.updated, result.unchanged) == (3, 0, 0)
    sql = (
        "SELECT d.code, s.item_type, s.quantity, s.unit FROM depot_stock s "
        "JOIN reserve_depots d ON d.id = s.depot_id ORDER BY 1, 2"
    )
    assert await fetch(empty_db, sql) == [
        {"code": "D1", "item_type": "tent", "quantity": 100, "unit": "piece"},
        {"code": "D1", "item_type": "water", "quantity": 500, "unit": "bottle"},
        {"code": "D2", "item_type": "tent", "quantity": 7, "unit": "piece"},
    ]
    again = await run(empty_db, stock, "depot_stock")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 3)
    changed = F.csv_file(
        tmp_path / "stock2.csv",
        ["depot_code", "item_type", "quantity"],
        [["D1", "tent", 90], ["D3", "tent", 1], ["D2", "tent", -1], ["D1", "tent", 5]],
    )
    with pytest.raises(ImportRejected) as info:
        await run(empty_db, changed, "depot_stock")
    assert info.value.errors == [
        {"row": 2, "field": "depot_code", "reason": "no reserve_depots feature has this code"},
        {"row": 3, "field": "quantity", "reason": "below the minimum 0"},
        {
            "row": 4,
            "field": "depot_code,item_type",
            "reason": "duplicate depot_code,item_type (first in row 1)",
        },
    ]
    fixed = F.csv_file(
        tmp_path / "stock3.csv", ["depot_code", "item_type", "quantity"], [["D1", "tent", 90]]
    )
    assert (await run(empty_db, fixed, "depot_stock")).updated == 1

    # hazard substances: the GB 18218 trigger computes the source's grade
    src = F.geojson(
        tmp_path / "h.geojson",
        [
            F.feature(
                {"code": "H1", "name": "库区", "people_within_500m": 150},
                shapely.Point(108.9, 34.2),
            )
        ],
    )
    await run(empty_db, src, "hazard_sources")
    subs = F.csv_file(
        tmp_path / "subs.csv",
        ["hazard_source_code", "substance", "cas", "q_tonnes", "threshold_tonnes", "beta"],
        [["H1", "氯", "7782-50-5", 20, 5, 4], ["H1", "甲醇", "67-56-1", 800, 500, 1]],
    )
    assert (await run(empty_db, subs, "hazard_substances")).inserted == 2
    got = await fetch(empty_db, "SELECT s_value, alpha, r_value, gb_grade FROM hazard_sources")
    assert got == [{"s_value": 5.6, "alpha": 2.0, "r_value": 35.2, "gb_grade": 3}]

    ents = F.geojson(
        tmp_path / "e.geojson",
        [F.feature({"code": "E1", "name": "厂"}, shapely.Point(108.9, 34.2))],
    )
    await run(empty_db, ents, "capacity_enterprises")
    cap = F.csv_file(
        tmp_path / "cap.csv", ["enterprise_code", "item_type", "quantity"], [["E1", "mask", 10000]]
    )
    assert (await run(empty_db, cap, "enterprise_capacity")).inserted == 1


async def test_hazard_substances_take_q_and_beta_from_gb18218(
    empty_db: Settings, tmp_path: Path
) -> None:
    """Q and β come from the standard: empty ones filled, different ones refused by row."""
    src = F.geojson(
        tmp_path / "h.geojson",
        [F.feature({"code": "H1", "name": "煤气站", "people_within_500m": 150},
                   shapely.Point(108.9, 34.2))],
    )  # fmt: skip
    await run(empty_db, src, "hazard_sources")
    cols = ["hazard_source_code", "substance", "cas", "category", "q_tonnes", "threshold_tonnes",
            "beta"]  # fmt: skip
    bad = F.csv_file(
        tmp_path / "bad.csv",
        cols,
        [
            ["H1", "一氧化碳", "630-08-0", "毒性气体", 14, 10, 2],  # Q is 20 t (row 13)
            ["H1", "氢", "1333-74-0", "", 4, 5, 1],  # β is 1.5 (W2)
            ["H1", "二甲苯", "1330-20-7", "", 500, 5000, 1],  # not named: category needed
            ["H1", "二甲苯2", "", "W9", 1, 1, 1],
            ["H1", "甲醇", "67-56-1", "", 800, 500, 1],  # agrees
        ],
    )
    with pytest.raises(ImportRejected) as info:
        await run(empty_db, bad, "hazard_substances")
    assert info.value.errors == [
        {"row": 1, "field": "threshold_tonnes",
         "reason": "10 disagrees with GB 18218-2018 Table 1 row 13: Q = 20 t"},
        {"row": 2, "field": "beta",
         "reason": "1 disagrees with GB 18218-2018 Table 1 row 51: β = 1.5"},
        {"row": 3, "field": "category", "reason": "'二甲苯' is not named in GB 18218 Table 1; "
         "give its Table 2 category"},
        {"row": 4, "field": "category",
         "reason": "unknown GB 18218 category 'W9' (a Table 2 symbol: J1, W2, ...)"},
    ]  # fmt: skip
    assert await fetch(empty_db, "SELECT count(*) AS n FROM hazard_substances") == [{"n": 0}]
    # Q and β left out: the standard's; an unnamed substance its category's
    good = F.csv_file(
        tmp_path / "good.csv",
        ["hazard_source_code", "substance", "category", "q_tonnes"],
        [["H1", "一氧化碳", "", 14], ["H1", "氢", "", 4], ["H1", "二甲苯", "W5.4", 500]],
    )
    assert (await run(empty_db, good, "hazard_substances")).inserted == 3
    got = await fetch(
        empty_db,
        "SELECT substance, threshold_tonnes AS q, beta FROM hazard_substances ORDER BY substance",
    )
    assert got == [
        {"substance": "一氧化碳", "q": 20.0, "beta": 2.0},
        {"substance": "二甲苯", "q": 5000.0, "beta": 1.0},
        {"substance": "氢", "q": 5.0, "beta": 1.5},
    ]
    # S = 14/20 + 4/5 + 500/5000 = 1.6; R = 2 x (0.7 x 2 + 0.8 x 1.5 + 0.1 x 1) = 5.4
    (row,) = await fetch(empty_db, "SELECT s_value, r_value, gb_grade FROM hazard_sources")
    assert (row["s_value"], row["r_value"], row["gb_grade"]) == (
        pytest.approx(1.6), pytest.approx(5.4), 4)  # fmt: skip


async def test_risk_unit_code_resolved(empty_db: Settings, tmp_path: Path) -> None:
    """monitoring_points.risk_unit_code -> risk_unit_id; an unknown code is a row error."""
    ru = F.geojson(
        tmp_path / "ru.geojson",
        [F.feature({"code": "RU1", "name": "站", "category": "gas"}, shapely.Point(108.9, 34.2))],
    )
    await run(empty_db, ru, "risk_units")
    mp = [
        F.feature(
            {
                "code": "M1",
                "name": "甲烷",
                "kind": "gas_leak",
                "domain": "lifeline",
                "risk_unit_code": "RU1",
                "threshold_l1": 2.5,
            },
            shapely.Point(108.9, 34.2),
        ),
        F.feature(
            {"code": "M2", "name": "压力", "kind": "pipe_pressure", "domain": "lifeline"},
            shapely.Point(108.91, 34.2),
        ),
    ]
    result = await run(empty_db, F.geojson(tmp_path / "mp.geojson", mp), "monitoring_points")
    assert result.inserted == 2
    rows = await fetch(
        empty_db,
        "SELECT m.code, r.code AS unit, m.threshold_l1, m.expected_interval_s "
        "FROM monitoring_points m LEFT JOIN risk_units r ON r.id = m.risk_unit_id ORDER BY 1",
    )
    assert rows == [
        {"code": "M1", "unit": "RU1", "threshold_l1": 2.5, "expected_interval_s": 60},
        {"code": "M2", "unit": None, "threshold_l1": None, "expected_interval_s": 60},
    ]
    mp[1]["properties"]["risk_unit_code"] = "RU404"
    with pytest.raises(ImportRejected) as info:
        await run(empty_db, F.geojson(tmp_path / "mp2.geojson", mp), "monitoring_points")
    assert info.value.errors == [
        {"row": 2, "field": "risk_unit_code", "reason": "no risk_units feature has this code"}
    ]


async def test_invalid_polygons_repaired_only_when_harmless(
    empty_db: Settings, tmp_path: Path
) -> None:
    """A self-touching ring is repaired by ST_MakeValid (same area); a bow-tie is refused."""
    # the shell touches itself at (108.95, 34.3): invalid, but the intent is clear
    touching = {
        "type": "Polygon",
        "coordinates": [
            [
                [108.9, 34.2],
                [109.0, 34.2],
                [109.0, 34.3],
                [108.95, 34.3],
                [108.97, 34.25],
                [108.93, 34.25],
                [108.95, 34.3],
                [108.9, 34.3],
                [108.9, 34.2],
            ]
        ],
    }
    bowtie = {
        "type": "Polygon",
        "coordinates": [
            [[108.9, 34.2], [109.0, 34.3], [109.0, 34.2], [108.9, 34.3], [108.9, 34.2]]
        ],
    }
    area = shapely.area(shapely.from_geojson(json.dumps(touching)))
    props = {
        "name": "w",
        "type": "rainstorm",
        "colour": "red",
        "valid_from": "2024-07-01T00:00:00+08:00",
        "valid_to": "2024-07-02T00:00:00+08:00",
    }
    feats = [F.feature(dict(props, code="W1"), touching), F.feature(dict(props, code="W2"), bowtie)]
    path = F.geojson(tmp_path / "w.geojson", feats)
    with pytest.raises(ImportRejected) as info:
        await run(empty_db, path, "weather_warnings", allow_events=True)
    assert info.value.errors == [
        {
            "row": 2,
            "field": "geometry",
            "reason": "invalid geometry that ST_MakeValid cannot "
            "repair without changing its area or length",
        },
    ]
    result = await run(empty_db, path, "weather_warnings", on_error="skip", allow_events=True)
    assert (result.inserted, result.rejected) == (1, 1)
    rows = await fetch(
        empty_db,
        "SELECT code, ST_IsValid(geom) ok, ST_Area(geom) a, GeometryType(geom) t, "
        "valid_from, valid_to FROM weather_warnings",
    )
    assert [(r["code"], r["ok"], r["t"]) for r in rows] == [("W1", True, "MULTIPOLYGON")]
    assert rows[0]["a"] == pytest.approx(area, rel=1e-9)
    assert rows[0]["valid_from"].isoformat() == "2024-06-30T16:00:00+00:00"


async def test_local_times_dates_and_district_names(empty_db: Settings, tmp_path: Path) -> None:
    """Naive date-times are Asia/Shanghai; dates in two spellings; districts by name or adcode."""
    await districts(empty_db, tmp_path)
    path = F.csv_file(
        tmp_path / "hh.csv",
        ["code", "name", "severity", "reported_at", "due_date", "district", "x", "y"],
        [
            ["H1", "裂缝", "major", "2024-05-01 08:00", "2024/05/10", "新城区", 109.05, 34.25],
            [
                "H2",
                "渗漏",
                "general",
                "2024-05-02T10:30:00Z",
                "2024-05-12",
                "610103",
                108.95,
                34.25,
            ],
            ["H3", "x", "general", "yesterday", "soon", "", 108.95, 34.25],
        ],
    )
    with pytest.raises(ImportRejected) as info:
        await run(empty_db, path, "hidden_hazards", allow_events=True)
    assert info.value.errors == [
        {"row": 3, "field": "due_date", "reason": "not a date (YYYY-MM-DD)"},
        {"row": 3, "field": "reported_at", "reason": "not a date-time (ISO 8601)"},
    ]
    result = await run(empty_db, path, "hidden_hazards", on_error="skip", allow_events=True)
    assert result.inserted == 2
    rows = await fetch(
        empty_db,
        "SELECT code, status, district, due_date::text d, "
        "to_char(reported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') r "
        "FROM hidden_hazards ORDER BY code",
    )
    assert rows == [
        {
            "code": "H1",
            "status": "reported",
            "district": "610102",
            "d": "2024-05-10",
            "r": "2024-05-01 00:00",
        },
        {
            "code": "H2",
            "status": "reported",
            "district": "610103",
            "d": "2024-05-12",
            "r": "2024-05-02 10:30",
        },
    ]


TRUTH = [(108.9423, 34.2610), (109.0127, 34.3402)]


def _in_crs(crs: str) -> list[tuple[float, float]]:
    """The TRUTH points written in `crs`."""
    xs = np.array([p[0] for p in TRUTH])
    ys = np.array([p[1] for p in TRUTH])
    if crs == "gcj02":
        xs, ys = wgs84_to_gcj02(xs, ys)
    elif crs == "bd09":
        xs, ys = wgs84_to_bd09(xs, ys)
    elif crs == "EPSG:4545":
        xs, ys = pyproj.Transformer.from_crs(4326, 4545, always_xy=True).transform(xs, ys)
    return list(zip(xs.tolist(), ys.tolist(), strict=True))


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:4545", "gcj02", "bd09"])
@pytest.mark.parametrize("fmt", ["geojson", "gpkg", "shapefile_zip", "csv"])
async def test_every_format_in_every_crs(
    empty_db: Settings, tmp_path: Path, fmt: str, crs: str
) -> None:
    """Each format x each CRS lands the same two points at the same place (1e-8 degree).

    GeoPackage and Shapefile declare EPSG:4326/4545 themselves; GCJ-02 and BD-09, which no
    file can declare, and everything in GeoJSON/CSV are given as `crs`.
    """
    pts = _in_crs(crs)
    records = [{"code": f"P{i}", "name": f"点{i}", "kind": "radio"} for i in range(len(pts))]
    geoms = [shapely.Point(p) for p in pts]
    declared = crs if crs.startswith("EPSG") else "EPSG:4326"
    given: str | None = crs
    if fmt == "geojson":
        path = F.geojson(
            tmp_path / "p.geojson", [F.feature(r, g) for r, g in zip(records, geoms, strict=True)]
        )
    elif fmt == "gpkg":
        path = F.gpkg(tmp_path / "p.gpkg", records, geoms, crs=declared)
        given = None if crs.startswith("EPSG") else crs
    elif fmt == "shapefile_zip":
        path = F.shapefile_zip(tmp_path / "p.zip", records, geoms, crs=declared)
        given = None if crs.startswith("EPSG") else crs
    else:
        rows = [
            [r["code"], r["name"], r["kind"], x, y] for r, (x, y) in zip(records, pts, strict=True)
        ]
        path = F.csv_file(tmp_path / "p.csv", ["code", "name", "kind", "x", "y"], rows)
    result = await run(empty_db, path, "broadcasts", crs=given)
    assert (result.inserted, result.rejected, result.format) == (2, 0, fmt)
    stored = await fetch(
        empty_db, "SELECT code, name, ST_X(geom) x, ST_Y(geom) y FROM broadcasts ORDER BY code"
    )
    assert [(r["code"], r["name"]) for r in stored] == [("P0", "点0"), ("P1", "点1")]
    for r, (x, y) in zip(stored, TRUTH, strict=True):
        assert abs(r["x"] - x) < 1e-8 and abs(r["y"] - y) < 1e-8, (r, x, y)


async def test_features_in_memory_as_a_file(empty_db: Settings, tmp_path: Path) -> None:
    """import_features (the editor's path) validates and writes exactly as a GeoJSON file."""
    from api.importer.core import import_features

    await districts(empty_db, tmp_path)
    feats = [
        F.feature(
            {"code": "M1", "name": "广播", "kind": "LED_Screen"}, shapely.Point(108.95, 34.25)
        )
    ]
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        doc = {"type": "FeatureCollection", "features": feats}
        result = await import_features(conn, doc, "broadcasts", settings=empty_db, source="edit:x")
        assert (result.total, result.inserted, result.format, result.source) == (
            1, 1, "geojson", "edit:x",
        )  # fmt: skip
        bad = {**feats[0], "properties": {**feats[0]["properties"], "kind": "pigeon"}}
        with pytest.raises(ImportRejected) as mem:
            await import_features(conn, {"type": "FeatureCollection", "features": [bad]},
                                  "broadcasts", settings=empty_db, source="edit:x")  # fmt: skip
    finally:
        await conn.close()
    with pytest.raises(ImportRejected) as disk:
        await run(empty_db, F.geojson(tmp_path / "bad.geojson", [bad]), "broadcasts")
    assert mem.value.errors == disk.value.errors and mem.value.errors[0]["field"] == "kind"
    assert await fetch(empty_db, "SELECT code, kind, district, source FROM broadcasts") == [
        {"code": "M1", "kind": "led_screen", "district": "610102", "source": "edit:x"}
    ]


async def test_bulk_history_equals_the_triggers(empty_db: Settings, tmp_path: Path) -> None:
    """A bulk import writes each feature's 'create' version itself (the history trigger off
    during its COPY, on again after): the same versions the trigger writes row by row, and
    after a truncate the next version of each code."""
    bulk = empty_db.model_copy(update={"import_bulk_min_rows": 2})
    feats = [
        F.feature(
            {"code": f"B{i}", "name": f"广播 {i}", "kind": "radio", "status": "online"},
            shapely.Point(108.9 + i / 1000, 34.2 + i / 3000),
        )
        for i in range(4)
    ]
    path = F.geojson(tmp_path / "b.geojson", feats)
    history = (
        "SELECT code, version, actor, actor_kind, via, op, data, diff FROM feature_history "
        "WHERE layer = 'broadcasts' ORDER BY code, version"
    )
    by_trigger = await run(empty_db, path, "broadcasts")  # 4 rows: below the bulk threshold
    assert (by_trigger.inserted, by_trigger.updated) == (4, 0)
    expected = await fetch(empty_db, history)
    assert [(r["code"], r["version"], r["via"], r["op"]) for r in expected] == [
        (f"B{i}", 1, "import", "create") for i in range(4)
    ]
    await fetch(empty_db, "DELETE FROM feature_history WHERE layer = 'broadcasts'")
    await fetch(empty_db, "TRUNCATE broadcasts")
    result = await run(bulk, path, "broadcasts")
    assert (result.inserted, result.updated) == (4, 0)
    assert await fetch(bulk, history) == expected
    enabled = await fetch(
        bulk,
        "SELECT tgenabled::text AS tgenabled FROM pg_trigger "
        "WHERE tgrelid = 'broadcasts'::regclass AND tgname = 'broadcasts_history_ins'",
    )
    assert enabled == [{"tgenabled": "O"}]
    await fetch(bulk, "TRUNCATE broadcasts")
    await run(bulk, path, "broadcasts")
    again = await fetch(bulk, history)
    assert [(r["code"], r["version"]) for r in again if r["version"] == 2] == [
        (f"B{i}", 2) for i in range(4)
    ]
