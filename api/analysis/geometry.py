"""api.analysis.geometry: check a GeoJSON geometry from a request before it reaches PostGIS.

Everything PostGIS or GEOS would choke on is refused here with a 400 that says
why: unknown types or CRS, NaN/Inf, coordinates off the globe, unclosed or
short rings, self-intersections; too many vertices is a 413 naming the cap.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.validation import explain_validity

from api.errors import BadRequest, PayloadTooLarge

GEOMETRY_TYPES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon")

#: CRS names meaning WGS84 lon/lat (CGCS2000 differs from it by centimetres)
WGS84_NAMES = frozenset(
    {
        "EPSG:4326",
        "urn:ogc:def:crs:EPSG::4326",
        "urn:ogc:def:crs:OGC:1.3:CRS84",
        "urn:ogc:def:crs:OGC::CRS84",
        "http://www.opengis.net/def/crs/OGC/1.3/CRS84",
        "http://www.opengis.net/def/crs/EPSG/0/4326",
        "EPSG:4490",
        "urn:ogc:def:crs:EPSG::4490",
        "http://www.opengis.net/def/crs/EPSG/0/4490",
    }
)

# nesting depth of "coordinates" for each type
_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


@dataclass(frozen=True, slots=True)
class InputGeometry:
    """A checked geometry: WKB for PostGIS, its type and its size."""

    wkb: bytes
    geom_type: str
    vertices: int
    is_areal: bool


def _position(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise BadRequest(f"geometry: {where} must be a position [lon, lat]")
    nums = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise BadRequest(f"geometry: {where} has a non-numeric coordinate {v!r}")
        if not math.isfinite(v):
            raise BadRequest(f"geometry: {where} has a coordinate that is NaN or infinite")
        nums.append(float(v))
    lon, lat = nums[0], nums[1]
    if not -180 <= lon <= 180:
        raise BadRequest(f"geometry: {where} longitude {lon} is outside -180..180")
    if not -90 <= lat <= 90:
        raise BadRequest(f"geometry: {where} latitude {lat} is outside -90..90")
    return lon, lat


def _positions(value: Any, depth: int, where: str, out: list[int], cap: int) -> Any:
    """Check nested coordinate arrays; count positions in out[0] (stop past the cap)."""
    if depth == 0:
        out[0] += 1
        if out[0] > cap:
            raise PayloadTooLarge(
                f"geometry has more than {cap} vertices (cap analysis_max_vertices={cap}); "
                "simplify it",
                cap="analysis_max_vertices",
                limit=cap,
            )
        return _position(value, where)
    if not isinstance(value, list | tuple):
        raise BadRequest(f"geometry: {where} must be an array")
    return [_positions(v, depth - 1, f"{where}[{i}]", out, cap) for i, v in enumerate(value)]


def _check_ring(ring: list[tuple[float, float]], where: str) -> None:
    if len(ring) < 4:
        raise BadRequest(
            f"geometry: ring {where} has {len(ring)} positions; a ring needs 4 or more"
        )
    if ring[0] != ring[-1]:
        raise BadRequest(
            f"geometry: ring {where} is not closed (its first and last positions differ)"
        )


def _check_crs(crs: Any) -> None:
    if crs is None:
        return
    name = None
    if isinstance(crs, dict):
        props = crs.get("properties")
        if isinstance(props, dict):
            name = props.get("name")
    if not isinstance(name, str) or name not in WGS84_NAMES:
        raise BadRequest(
            f"geometry: unknown or unsupported CRS {name or crs!r}; send WGS84 lon/lat "
            "(EPSG:4326, CRS84 or CGCS2000 EPSG:4490)"
        )


def parse_geometry(obj: Any, max_vertices: int) -> InputGeometry:
    """Check a GeoJSON geometry object (WGS84 lon/lat) and return it as WKB."""
    if not isinstance(obj, dict):
        raise BadRequest("geometry: must be a GeoJSON geometry object")
    gtype = obj.get("type")
    if gtype not in _DEPTH:
        raise BadRequest(
            f"geometry: type {gtype!r} is not supported; use one of {', '.join(GEOMETRY_TYPES)}"
        )
    _check_crs(obj.get("crs"))
    extra = set(obj) - {"type", "coordinates", "crs", "bbox"}
    if extra:
        raise BadRequest(f"geometry: unexpected member(s) {sorted(extra)}")
    if "coordinates" not in obj:
        raise BadRequest("geometry: no coordinates")
    count = [0]
    coords = _positions(obj["coordinates"], _DEPTH[gtype], "coordinates", count, max_vertices)
    if gtype == "LineString" and len(coords) < 2:
        raise BadRequest("geometry: a LineString needs 2 or more positions")
    if gtype == "MultiLineString":
        for i, line in enumerate(coords):
            if len(line) < 2:
                raise BadRequest(f"geometry: line {i} needs 2 or more positions")
    polygons = [coords] if gtype == "Polygon" else coords if gtype == "MultiPolygon" else []
    for p, rings in enumerate(polygons):
        if not rings:
            raise BadRequest(f"geometry: polygon {p} has no rings")
        for r, ring in enumerate(rings):
            _check_ring(ring, f"{p}.{r}" if gtype == "MultiPolygon" else str(r))
    if gtype in ("MultiPoint", "MultiLineString", "MultiPolygon") and not coords:
        raise BadRequest(f"geometry: empty {gtype}")
    try:
        geom = shape({"type": gtype, "coordinates": coords})
    except (ValueError, TypeError, shapely.errors.ShapelyError) as exc:
        raise BadRequest(f"geometry: not a valid {gtype}: {exc}") from None
    if geom.is_empty:
        raise BadRequest("geometry: is empty")
    if not geom.is_valid:
        raise BadRequest(f"geometry: invalid {gtype}: {explain_validity(geom)}")
    geom = shapely.force_2d(geom)
    return InputGeometry(
        wkb=shapely.to_wkb(geom),
        geom_type=gtype,
        vertices=count[0],
        is_areal=gtype in ("Polygon", "MultiPolygon"),
    )


def point(lon: float, lat: float) -> InputGeometry:
    """A checked point from lon/lat."""
    _position([lon, lat], "point")
    # little-endian WKB Point: byte order 1, type 1, x, y
    return InputGeometry(struct.pack("<BIdd", 1, 1, lon, lat), "Point", 1, False)
