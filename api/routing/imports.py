"""api.routing.imports: `onemap roads import FILE`: an OSM file, or lines from GeoJSON/GeoPackage.

OSM (.pbf, .osm, .osm.xml) goes through api.routing.osm (split at shared nodes, no
geometric noding); any other file through the importer's readers (format sniffed, any CRS
the importer knows, GCJ-02 and BD-09 included), then noded at every crossing. Attributes
of a line file: `name`, `road_class` (or OSM's `highway`; default `road`), `oneway`,
`closed`, `speed_kmh`, `code`. The network is replaced in one transaction.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import asyncpg
import shapely

from api.crs import parse_crs
from api.importer.geometry import to_wgs84
from api.importer.readers import read_file
from api.importer.sniff import sniff
from api.routing.build import NetworkError, build, create_input
from api.routing.osm import segments
from api.settings import Settings

OSM_SUFFIXES = (".pbf", ".osm", ".osm.xml", ".osm.bz2", ".osm.gz")
_INSERT = (
    "INSERT INTO road_input (code, name, road_class, speed_kmh, oneway, closed, osm_way, "
    "source_node, target_node, geom) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, ST_GeomFromText($10, 4326))"
)


def is_osm(path: Path) -> bool:
    """True for an OpenStreetMap file (by its name)."""
    return path.name.lower().endswith(OSM_SUFFIXES)


def _truthy(v: Any) -> bool:
    return str(v).strip().lower() in ("1", "true", "yes", "t", "y")


def _line_rows(path: Path, settings: Settings, crs: str | None) -> list[tuple[Any, ...]]:
    """Rows for road_input from a GeoJSON/GeoPackage/Shapefile of lines."""
    fmt = sniff(path)
    with tempfile.TemporaryDirectory() as work:
        raw = read_file(path, fmt, Path(work), settings, "roads")
    declared = parse_crs(crs) if crs else raw.crs
    geoms = to_wgs84(raw.geoms, declared) if declared is not None else raw.geoms
    if geoms.shapes is None:
        raise NetworkError("the file holds points, not road lines")
    cols = {k: v.to_pylist() for k, v in raw.columns.items()}

    def col(name: str, i: int) -> Any:
        values = cols.get(name)
        return None if values is None else values[i]

    rows = []
    for i, shape in enumerate(geoms.shapes):
        if shape is None or shapely.is_missing(shape):
            continue
        parts = (
            shapely.get_parts(shapely.line_merge(shape))
            if shape.geom_type.startswith("Multi")
            else [shape]
        )
        for k, part in enumerate(parts):
            if part.geom_type != "LineString" or part.is_empty:
                raise NetworkError(f"row {i + 1}: a {part.geom_type}, not a line")
            cls = col("road_class", i) or col("highway", i) or "road"
            speed = col("speed_kmh", i)
            code = col("code", i)
            rows.append((
                f"{code}-{k}" if code and len(parts) > 1 else code,
                col("name", i), str(cls), float(speed) if speed not in (None, "") else None,
                _truthy(col("oneway", i)), _truthy(col("closed", i)), None, None, None,
                shapely.to_wkt(shapely.force_2d(part), rounding_precision=-1),
            ))  # fmt: skip
    return rows


async def import_roads(
    conn: asyncpg.Connection,
    path: Path,
    settings: Settings,
    *,
    crs: str | None = None,
    speeds: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Replace the road network with the file's roads; the build's figures."""
    if is_osm(path):
        rows = [
            (s.code, s.name, s.road_class, None, s.oneway, s.closed, s.way, s.source_node,
             s.target_node, s.wkt)
            for s in segments(path)
        ]  # fmt: skip
        origin, noding = f"osm:{path.name}", False
    else:
        rows = _line_rows(path, settings, crs)
        origin, noding = f"import:{path.name}", True
    if not rows:
        raise NetworkError(f"{path.name}: no road lines found")
    async with conn.transaction():
        await create_input(conn)
        await conn.executemany(_INSERT, rows)
        return await build(conn, origin, noding=noding, speeds=speeds)
