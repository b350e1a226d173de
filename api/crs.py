"""api.crs: coordinate systems: EPSG/WKT through PROJ, and GCJ-02 / BD-09, which PROJ lacks.

GCJ-02 (the "Mars" offset of Chinese web maps, Amap/Tencent) is WGS84 plus an
obfuscating offset; BD-09 (Baidu) is GCJ-02 plus a second one. The forward
formulas are the public ones (see docs/crs.md); the inverses are solved
iteratively to better than 1e-9 degree, not with the usual one-step guess
(which is off by up to ~2 m). All functions are vectorised over numpy arrays.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pyproj
import shapely
from numpy.typing import ArrayLike, NDArray

from api.errors import BadRequest

Coords = tuple[NDArray[np.float64], NDArray[np.float64]]

# Krasovsky 1940 ellipsoid, as the public GCJ-02 formula uses it.
_A = 6378245.0
_EE = 0.00669342162296594323
# The box outside which the public formula applies no offset (lon/lat degrees).
CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)
_X_PI = np.pi * 3000.0 / 180.0
_MAX_ITER = 30
#: iterations stop once the step is below this many degrees (~1e-6 m)
_TOL = 1e-11


def _arrays(lon: ArrayLike, lat: ArrayLike) -> Coords:
    x = np.asarray(lon, dtype=np.float64)
    y = np.asarray(lat, dtype=np.float64)
    x, y = np.broadcast_arrays(x, y)
    return np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)


def in_china(lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
    """Whether the public GCJ-02 formula offsets this point (inside its China box)."""
    x, y = _arrays(lon, lat)
    x0, y0, x1, y1 = CHINA_BOX
    return (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)


def _gcj_delta(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> Coords:
    """The GCJ-02 offset (dlon, dlat) in degrees at WGS84 (lon, lat), ignoring the box."""
    x = lon - 105.0
    y = lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    sq = np.sqrt(np.abs(x))
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * sq + common
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * sq + common
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    rad = lat / 180.0 * np.pi
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrt_magic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """WGS84 to GCJ-02 (the public offset formula; no offset outside China's box)."""
    x, y = _arrays(lon, lat)
    dlon, dlat = _gcj_delta(x, y)
    inside = in_china(x, y)
    return np.where(inside, x + dlon, x), np.where(inside, y + dlat, y)


def _solve(
    forward: Callable[[NDArray[np.float64], NDArray[np.float64]], Coords],
    tx: NDArray[np.float64],
    ty: NDArray[np.float64],
    x: NDArray[np.float64],
    y: NDArray[np.float64],
) -> Coords:
    """Fixed-point iteration for forward(x, y) == (tx, ty), from the guess (x, y)."""
    for _ in range(_MAX_ITER):
        fx, fy = forward(x, y)
        ex, ey = fx - tx, fy - ty
        x = x - ex
        y = y - ey
        if not (np.any(np.abs(ex) > _TOL) or np.any(np.abs(ey) > _TOL)):
            break
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def gcj02_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """GCJ-02 to WGS84: the forward formula inverted iteratively (residual < 1e-9 degree)."""
    gx, gy = _arrays(lon, lat)
    inside = in_china(gx, gy)
    if not inside.any():
        return gx, gy

    def offset(x: NDArray[np.float64], y: NDArray[np.float64]) -> Coords:
        dx, dy = _gcj_delta(x, y)
        return x + dx, y + dy

    tx, ty = gx[inside], gy[inside]
    dx0, dy0 = _gcj_delta(tx, ty)
    wx, wy = _solve(offset, tx, ty, tx - dx0, ty - dy0)
    ox, oy = gx.copy(), gy.copy()
    ox[inside] = wx
    oy[inside] = wy
    return ox, oy


def gcj02_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """GCJ-02 to BD-09 (Baidu's public formula, x_pi = pi * 3000 / 180)."""
    x, y = _arrays(lon, lat)
    z = np.hypot(x, y) + 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd09_to_gcj02_closed_form(x: NDArray[np.float64], y: NDArray[np.float64]) -> Coords:
    x = x - 0.0065
    y = y - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def bd09_to_gcj02(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """BD-09 to GCJ-02: the usual closed form, refined until gcj02_to_bd09 gives it back."""
    bx, by = _arrays(lon, lat)
    gx, gy = _bd09_to_gcj02_closed_form(bx, by)
    return _solve(gcj02_to_bd09, bx, by, gx, gy)


def wgs84_to_bd09(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """WGS84 to BD-09, through GCJ-02."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: ArrayLike, lat: ArrayLike) -> Coords:
    """BD-09 to WGS84, through GCJ-02."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


# ---------------------------------------------------------------- CRS by name

CrsKind = Literal["wgs84", "proj", "gcj02", "bd09"]

_ALIASES: dict[str, CrsKind] = {
    "gcj02": "gcj02",
    "gcj": "gcj02",
    "bd09": "bd09",
    "bd09ll": "bd09",
    "wgs84": "wgs84",
}
_WGS84 = pyproj.CRS.from_epsg(4326)
_MAX_CRS_TEXT = 20_000


@dataclass(frozen=True, slots=True)
class Crs:
    """A source coordinate system: how to bring its x/y to WGS84 lon/lat."""

    name: str
    kind: CrsKind
    #: the PROJ definition (WKT) for kind "proj"; empty otherwise
    wkt: str = ""

    @property
    def is_wgs84(self) -> bool:
        """True when coordinates need no transformation."""
        return self.kind == "wgs84"

    def to_wgs84(self, x: ArrayLike, y: ArrayLike) -> Coords:
        """Transform x/y (easting/northing or lon/lat) to WGS84 lon/lat, vectorised."""
        xs, ys = _arrays(x, y)
        if self.kind == "wgs84":
            return xs, ys
        if self.kind == "gcj02":
            return gcj02_to_wgs84(xs, ys)
        if self.kind == "bd09":
            return bd09_to_wgs84(xs, ys)
        lon, lat = _transformer(self.wkt).transform(xs, ys, errcheck=False)
        return np.asarray(lon, dtype=np.float64), np.asarray(lat, dtype=np.float64)


WGS84 = Crs("EPSG:4326", "wgs84")


@functools.lru_cache(maxsize=64)
def _transformer(wkt: str) -> pyproj.Transformer:
    """A cached Transformer from `wkt` to WGS84, lon/lat order whatever the CRS's axes."""
    return pyproj.Transformer.from_crs(pyproj.CRS.from_wkt(wkt), _WGS84, always_xy=True)


def _alias_key(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def from_pyproj(crs: pyproj.CRS) -> Crs:
    """A Crs from a pyproj CRS (a file's own .prj or GeoPackage srs)."""
    if crs.is_geographic and crs.equals(_WGS84, ignore_axis_order=True):
        return WGS84
    if not (crs.is_geographic or crs.is_projected):
        raise BadRequest(
            f"coordinate system {crs.name!r} is not a horizontal geographic or projected system"
        )
    epsg = crs.to_epsg(min_confidence=90)
    name = f"EPSG:{epsg}" if epsg else crs.name
    wkt = crs.to_wkt()
    try:
        _transformer(wkt)
    except pyproj.exceptions.ProjError as exc:
        raise BadRequest(f"no transformation from {name} to WGS84: {exc}") from None
    return Crs(name, "proj", wkt)


@functools.lru_cache(maxsize=128)
def parse_crs(text: str) -> Crs:
    """`EPSG:4326`, `4490`, `epsg:4547`, WKT/PROJ text, or `GCJ-02` / `BD-09` (any case)."""
    raw = (text or "").strip()
    if not raw:
        raise BadRequest("empty coordinate system")
    if len(raw) > _MAX_CRS_TEXT:
        raise BadRequest("coordinate system definition too long")
    kind = _ALIASES.get(_alias_key(raw))
    if kind == "wgs84":
        return WGS84
    if kind == "gcj02":
        return Crs("GCJ-02", "gcj02")
    if kind == "bd09":
        return Crs("BD-09", "bd09")
    lowered = raw.lower()
    # PROJ may read init files or grids named in the text: refuse anything file-like.
    if "init=" in lowered or "file:" in lowered or raw[0] in "/.~\\":
        raise BadRequest(f"unsupported coordinate system {raw[:80]!r}")
    spec = f"EPSG:{raw}" if raw.isdigit() else raw
    try:
        crs = pyproj.CRS.from_user_input(spec)
    except pyproj.exceptions.CRSError:
        raise BadRequest(
            f"unknown coordinate system {raw[:80]!r}: give an EPSG code (e.g. EPSG:4326, "
            "EPSG:4490, EPSG:4547), WKT, or GCJ-02 / BD-09"
        ) from None
    return from_pyproj(crs)


def transform_geometries(geoms: NDArray[np.object_], crs: Crs) -> NDArray[np.object_]:
    """Bring an array of shapely geometries from `crs` to WGS84 (2D), vectorised."""
    arr = np.asarray(geoms, dtype=object)
    if crs.is_wgs84:
        return arr

    def _fn(coords: NDArray[np.float64]) -> NDArray[np.float64]:
        lon, lat = crs.to_wgs84(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(arr, _fn)
