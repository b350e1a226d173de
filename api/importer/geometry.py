"""api.importer.geometry: geometries of a whole file at once: parse, conform, move, check, encode.

Points take a fast path as two coordinate arrays (WKB points are decoded with
numpy and EWKB written with numpy); other geometries are shapely arrays. Every
check returns the rows it rejects with a reason, never raising per row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import shapely
from numpy.typing import NDArray

from api.crs import Crs, transform_geometries
from api.importer.pgcopy import VarColumn

SRID = 4326
Bad = list[tuple[NDArray[np.bool_], str]]

# shapely type ids
POINT, LINESTRING, LINEARRING, POLYGON, MULTIPOINT, MULTILINESTRING, MULTIPOLYGON, COLLECTION = (
    range(8)
)
TYPE_NAMES = {
    POINT: "Point",
    LINESTRING: "LineString",
    LINEARRING: "LinearRing",
    POLYGON: "Polygon",
    MULTIPOINT: "MultiPoint",
    MULTILINESTRING: "MultiLineString",
    MULTIPOLYGON: "MultiPolygon",
    COLLECTION: "GeometryCollection",
}
#: what each layer kind accepts, before promotion to the stored type
ACCEPTS: dict[str, frozenset[int]] = {
    "point": frozenset({POINT, MULTIPOINT}),
    "line": frozenset({LINESTRING, MULTILINESTRING}),
    "area": frozenset({POLYGON, MULTIPOLYGON}),
    "point_or_area": frozenset({POINT, MULTIPOINT, POLYGON, MULTIPOLYGON}),
}
KIND_WORDS = {
    "point": "Point",
    "line": "LineString or MultiLineString",
    "area": "Polygon or MultiPolygon",
    "point_or_area": "Point, Polygon or MultiPolygon",
}


@dataclass(slots=True)
class Geoms:
    """The geometries of n rows: point coordinates (x, y) or shapely objects (shapes)."""

    n: int
    missing: NDArray[np.bool_]
    x: NDArray[np.float64] | None = None
    y: NDArray[np.float64] | None = None
    shapes: NDArray[np.object_] | None = None
    #: rows whose geometry was present but could not be parsed
    unparsable: NDArray[np.bool_] | None = None
    unparsable_reason: str = "unreadable geometry"

    @property
    def is_points(self) -> bool:
        """True on the point fast path."""
        return self.x is not None

    def take(self, keep: NDArray[np.bool_]) -> Geoms:
        """The rows where keep is True."""
        return Geoms(
            int(keep.sum()),
            self.missing[keep],
            None if self.x is None else self.x[keep],
            None if self.y is None else self.y[keep],
            None if self.shapes is None else self.shapes[keep],
            None if self.unparsable is None else self.unparsable[keep],
            self.unparsable_reason,
        )


def none(n: int) -> Geoms:
    """n rows without geometry."""
    return Geoms(n, np.ones(n, dtype=bool), shapes=np.full(n, None, dtype=object))


def from_xy(x: NDArray[np.float64], y: NDArray[np.float64], missing: NDArray[np.bool_]) -> Geoms:
    """Points from coordinate arrays (NaN where missing)."""
    return Geoms(len(x), missing, np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))


def from_shapes(shapes: NDArray[np.object_], unparsable: NDArray[np.bool_] | None = None) -> Geoms:
    """From shapely geometries (None where missing or unparsable)."""
    shapes = np.asarray(shapes, dtype=object)
    missing = shapely.is_missing(shapes)
    if unparsable is not None:
        missing = missing & ~unparsable
    return Geoms(len(shapes), missing, shapes=shapes, unparsable=unparsable)


def _wkb_points(
    offsets: NDArray[np.int64], data: NDArray[np.uint8], valid: NDArray[np.bool_]
) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """x, y of 2D little-endian WKB points, or None when some geometry is anything else."""
    lengths = np.diff(offsets)
    starts = offsets[:-1]
    if not np.all(lengths[valid] == 21):
        return None
    s = starts[valid]
    if len(s) and not np.all(data[s] == 1):
        return None
    head = data[s[:, None] + np.arange(1, 5)].copy().view("<u4").ravel()
    if not np.all(head == 1):
        return None
    n = len(offsets) - 1
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    x[valid] = data[s[:, None] + np.arange(5, 13)].copy().view("<f8").ravel()
    y[valid] = data[s[:, None] + np.arange(13, 21)].copy().view("<f8").ravel()
    return x, y


def from_wkb(values: pa.Array | pa.ChunkedArray) -> Geoms:
    """From a WKB column (GDAL's Arrow output); 2D points decode without shapely."""
    arr = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    arr = arr.cast(pa.large_binary())
    n = len(arr)
    valid = arr.is_valid().to_numpy(zero_copy_only=False)
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=np.int64)[arr.offset : arr.offset + n + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    pts = _wkb_points(offsets, data, valid)
    if pts is not None:
        return from_xy(pts[0], pts[1], ~valid)
    raw = arr.to_numpy(zero_copy_only=False)
    shapes = shapely.from_wkb(raw, on_invalid="ignore")
    unparsable = valid & shapely.is_missing(shapes)
    return from_shapes(shapes, unparsable)


def conform(g: Geoms, kind: str, nullable: bool) -> tuple[Geoms, Bad]:
    """Check types against the layer, promote to its stored types, drop Z; the rejected rows."""
    bad: Bad = []
    if g.unparsable is not None and g.unparsable.any():
        bad.append((g.unparsable, g.unparsable_reason))
    if not nullable and g.missing.any():
        bad.append((g.missing, "geometry is missing"))
    want = ACCEPTS[kind]
    if g.is_points:
        assert g.x is not None and g.y is not None
        empty = ~g.missing & np.isnan(g.x) & np.isnan(g.y)
        if g.unparsable is not None:
            empty &= ~g.unparsable
        if empty.any():
            bad.append((empty, "empty geometry"))
        if POINT not in want:
            bad.append((~g.missing, f"a Point, but this layer takes {KIND_WORDS[kind]}"))
        return g, bad
    shapes = g.shapes
    assert shapes is not None
    present = ~shapely.is_missing(shapes)
    types = np.where(present, shapely.get_type_id(shapes), -1)
    empty = present & shapely.is_empty(shapes)
    if empty.any():
        bad.append((empty, "empty geometry"))
    for t in np.unique(types[present & ~empty]):
        if int(t) not in want:
            mask = present & ~empty & (types == t)
            bad.append((mask, f"a {TYPE_NAMES[int(t)]}, but this layer takes {KIND_WORDS[kind]}"))
    shapes = shapes.copy()
    ok = present & ~empty
    multipoint = ok & (types == MULTIPOINT)
    if multipoint.any():
        parts = shapely.get_num_geometries(shapes[multipoint])
        several = np.zeros(g.n, dtype=bool)
        several[np.flatnonzero(multipoint)[parts != 1]] = True
        if several.any():
            bad.append((several, "a MultiPoint of several points; this layer takes one Point"))
        single = multipoint & ~several
        shapes[single] = shapely.get_geometry(shapes[single], 0)
        types = np.where(single, POINT, types)
    for single_t, multi_fn in (
        (POLYGON, shapely.multipolygons),
        (LINESTRING, shapely.multilinestrings),
    ):
        mask = ok & (types == single_t)
        if mask.any():
            idx = np.arange(int(mask.sum()))
            shapes[mask] = multi_fn(shapes[mask], indices=idx)
    has_z = ok & shapely.has_z(shapes)
    if has_z.any():
        shapes[has_z] = shapely.force_2d(shapes[has_z])
    if kind == "point":
        # every accepted row is now a Point: continue on the fast path
        pts = ok & (types == POINT)
        xy = np.full((g.n, 2), np.nan)
        if pts.any():
            xy[pts] = shapely.get_coordinates(shapes[pts])
        return from_xy(xy[:, 0], xy[:, 1], ~pts), bad
    return replace(g, shapes=shapes), bad


def to_wgs84(g: Geoms, crs: Crs) -> Geoms:
    """The same rows moved to WGS84 lon/lat."""
    if crs.is_wgs84:
        return g
    if g.is_points:
        x, y = crs.to_wgs84(g.x, g.y)  # type: ignore[arg-type]
        return replace(g, x=x, y=y)
    assert g.shapes is not None
    present = ~shapely.is_missing(g.shapes)
    out = g.shapes.copy()
    out[present] = transform_geometries(g.shapes[present], crs)
    return replace(g, shapes=out)


def _hint(x: float, y: float, bbox: tuple[float, float, float, float]) -> str:
    x0, y0, x1, y1 = bbox
    if abs(x) > 1000 or abs(y) > 1000:
        return "; these look like projected metres: give the file's CRS (e.g. --crs EPSG:4545)"
    if x0 <= y <= x1 and y0 <= x <= y1:
        return "; lon and lat look swapped"
    return ""


def check_coordinates(g: Geoms, bbox: tuple[float, float, float, float]) -> Bad:
    """Rows with NaN/Inf coordinates, and rows outside the city's lon/lat box."""
    x0, y0, x1, y1 = bbox
    box = f"lon {x0:g}..{x1:g}, lat {y0:g}..{y1:g}"
    bad: Bad = []
    if g.is_points:
        assert g.x is not None and g.y is not None
        present = ~g.missing & ~(np.isnan(g.x) & np.isnan(g.y))
        finite = np.isfinite(g.x) & np.isfinite(g.y)
        nonfinite = present & ~finite
        inside = (g.x >= x0) & (g.x <= x1) & (g.y >= y0) & (g.y <= y1)
        outside = present & finite & ~inside
        sample = (g.x, g.y)
    else:
        assert g.shapes is not None
        present = ~shapely.is_missing(g.shapes) & ~shapely.is_empty(g.shapes)
        coords, index = shapely.get_coordinates(g.shapes[present], return_index=True)
        rows = np.flatnonzero(present)
        nonfinite = np.zeros(g.n, dtype=bool)
        nf = ~np.isfinite(coords).all(axis=1)
        nonfinite[rows[index[nf]]] = True
        bounds = np.full((g.n, 4), np.nan)
        bounds[present] = shapely.bounds(g.shapes[present])
        inside = (bounds[:, 0] >= x0) & (bounds[:, 2] <= x1) & (bounds[:, 1] >= y0)
        inside &= bounds[:, 3] <= y1
        outside = present & ~nonfinite & ~inside
        sample = (bounds[:, 0], bounds[:, 1])
    if nonfinite.any():
        bad.append((nonfinite, "coordinates are not finite numbers (NaN or Infinity)"))
    if outside.any():
        first = int(np.flatnonzero(outside)[0])
        hint = _hint(float(sample[0][first]), float(sample[1][first]), bbox)
        bad.append((outside, f"outside the city's area ({box}){hint}"))
    return bad


def invalid(g: Geoms) -> NDArray[np.bool_]:
    """Rows whose (non-point) geometry is not OGC-valid."""
    if g.is_points or g.shapes is None:
        return np.zeros(g.n, dtype=bool)
    present = ~shapely.is_missing(g.shapes)
    out = np.zeros(g.n, dtype=bool)
    out[present] = ~shapely.is_valid(g.shapes[present])
    return out


def anchor_points(g: Geoms) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """A point on each geometry (itself for points), NaN where missing: to find its district."""
    if g.is_points:
        assert g.x is not None and g.y is not None
        return g.x, g.y
    assert g.shapes is not None
    x = np.full(g.n, np.nan)
    y = np.full(g.n, np.nan)
    present = ~shapely.is_missing(g.shapes) & ~shapely.is_empty(g.shapes)
    if present.any():
        xy = shapely.get_coordinates(shapely.point_on_surface(g.shapes[present]))
        x[present] = xy[:, 0]
        y[present] = xy[:, 1]
    return x, y


_EWKB_POINT_HEAD = np.frombuffer(
    b"\x01" + np.array([0x20000001, SRID], dtype="<u4").tobytes(), dtype=np.uint8
)


def to_ewkb(g: Geoms) -> VarColumn:
    """EWKB (SRID 4326) of every row, NULL where missing: a COPY column for PostGIS."""
    if g.is_points:
        assert g.x is not None and g.y is not None
        n = g.n
        buf = np.empty((n, 25), dtype=np.uint8)
        buf[:, :9] = _EWKB_POINT_HEAD
        buf[:, 9:17] = g.x.astype("<f8").view(np.uint8).reshape(n, 8)
        buf[:, 17:25] = g.y.astype("<f8").view(np.uint8).reshape(n, 8)
        offsets = np.arange(0, 25 * (n + 1), 25, dtype=np.int64)
        return VarColumn(offsets, buf.reshape(-1), g.missing if g.missing.any() else None)
    assert g.shapes is not None
    missing = shapely.is_missing(g.shapes)
    blobs = np.full(g.n, b"", dtype=object)
    present = ~missing
    if present.any():
        with_srid = shapely.set_srid(g.shapes[present], SRID)
        blobs[present] = shapely.to_wkb(with_srid, include_srid=True, flavor="extended")
    lengths = np.fromiter((len(b) for b in blobs), dtype=np.int64, count=g.n)
    offsets = np.zeros(g.n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = np.frombuffer(b"".join(blobs), dtype=np.uint8)
    return VarColumn(offsets, data, missing if missing.any() else None)
