"""geodata.population: district populations and the ~1 km population grid.

The 2020 census total of Xi'an (12,952,907) is exact. Per district, only
新城区 and 雁塔区 could be checked against a public source (the county-level
census volume, administrative scope); the other eleven are an allocation of
the remainder weighted toward the urban ring (see SOURCES.md). Inside each
district a synthetic density surface (urban core, district seats, plains vs
the Qinling foothills) spreads the district's people over ~1 km cells; the
cells of a district sum exactly to its population.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray

from geodata.districts import District

CENSUS_TOTAL = 12_952_907

#: resident population per district (adcode); see SOURCES.md for which are verified
DISTRICT_POPULATION: dict[str, int] = {
    "610102": 617_986,  # 新城区, verified (中国人口普查分县资料—2020)
    "610103": 757_000,  # 碑林区, allocated
    "610104": 1_019_000,  # 莲湖区, allocated
    "610111": 1_105_184,  # 灞桥区, allocated
    "610112": 2_340_000,  # 未央区, allocated
    "610113": 2_046_737,  # 雁塔区, verified (中国人口普查分县资料—2020)
    "610114": 281_000,  # 阎良区, allocated
    "610115": 703_000,  # 临潼区, allocated
    "610116": 1_830_000,  # 长安区, allocated
    "610117": 417_000,  # 高陵区, allocated
    "610118": 760_000,  # 鄠邑区, allocated
    "610122": 514_000,  # 蓝田县, allocated
    "610124": 562_000,  # 周至县, allocated
}
assert sum(DISTRICT_POPULATION.values()) == CENSUS_TOTAL

#: grid step: 1 km north-south, ~1 km east-west at Xi'an's latitude
CELL_DLAT = 1 / 111.32
CELL_DLON = 1 / (111.32 * float(np.cos(np.radians(34.2))))
GRID_ORIGIN = (107.6, 33.6)
#: cells smaller than this (km²) after clipping are dropped
MIN_CELL_KM2 = 0.01

# (lon, lat, peak people/km², sigma km): the walled city, urban sub-centres, district seats
_CENTRES: tuple[tuple[float, float, float, float], ...] = (
    (108.942, 34.261, 30_000, 3.5),  # 钟楼, the walled city
    (108.945, 34.222, 22_000, 3.0),  # 小寨
    (108.885, 34.215, 15_000, 3.0),  # 高新区
    (108.980, 34.205, 12_000, 2.5),  # 曲江
    (108.940, 34.335, 14_000, 3.5),  # 经开区 / 市政府
    (109.060, 34.270, 11_000, 2.5),  # 纺织城
    (108.870, 34.300, 9_000, 3.0),  # 土门 / 汉城
    (108.940, 34.160, 8_000, 2.5),  # 韦曲
    (108.870, 34.160, 6_000, 2.5),  # 郭杜
    (109.215, 34.370, 6_000, 2.0),  # 临潼城区
    (109.230, 34.660, 6_000, 2.0),  # 阎良城区
    (109.090, 34.535, 5_000, 2.0),  # 高陵鹿苑
    (108.605, 34.110, 5_000, 2.0),  # 鄠邑甘亭
    (109.320, 34.155, 4_000, 1.8),  # 蓝田蓝关
    (108.220, 34.165, 4_000, 1.8),  # 周至二曲
)
#: people/km² on the Guanzhong plain away from towns, and in the Qinling mountains
_PLAIN = 350.0
_MOUNTAIN = 15.0
#: the Qinling's northern foot, roughly, at Xi'an
_FOOTHILL_LAT = 34.05


def density(lon: NDArray[np.float64], lat: NDArray[np.float64]) -> NDArray[np.float64]:
    """A synthetic resident density surface (people/km²) for Xi'an."""
    kx = 111.32 * np.cos(np.radians(34.2))
    out = np.where(lat < _FOOTHILL_LAT, _MOUNTAIN, _PLAIN).astype(np.float64)
    for clon, clat, peak, sigma in _CENTRES:
        d2 = ((lon - clon) * kx) ** 2 + ((lat - clat) * 111.32) ** 2
        out += peak * np.exp(-d2 / (2 * sigma * sigma))
    return out


def apportion(total: int, weights: NDArray[np.float64], minimum: int = 0) -> NDArray[np.int64]:
    """Split an integer total in proportion to weights (largest remainder), each ≥ minimum."""
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError("nothing to apportion to")
        return np.zeros(0, dtype=np.int64)
    rest = total - minimum * n
    if rest < 0:
        raise ValueError(f"cannot give {n} parts at least {minimum} out of {total}")
    w = np.asarray(weights, dtype=np.float64)
    w = w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)
    exact = w * rest
    base = np.floor(exact).astype(np.int64)
    short = rest - int(base.sum())
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:short]] += 1
    return base + minimum


@dataclass(frozen=True)
class Grid:
    """Population cells: geometry, district, population, grid row/col and area."""

    geoms: NDArray[np.object_]
    district: NDArray[np.str_]
    population: NDArray[np.int64]
    row: NDArray[np.int64]
    col: NDArray[np.int64]
    area_km2: NDArray[np.float64]


def _multipolygons(geoms: NDArray[np.object_]) -> NDArray[np.object_]:
    """Each geometry's polygonal parts as one MultiPolygon (vectorised)."""
    parts, idx = shapely.get_parts(geoms, return_index=True)
    keep = (shapely.get_type_id(parts) == 3) & (shapely.area(parts) > 0)
    out = np.asarray(shapely.multipolygons(parts[keep], indices=idx[keep]), dtype=object)
    if len(out) != len(geoms) or shapely.is_empty(out).any():
        raise ValueError("a clipped cell lost its polygonal part")
    return out


def build_grid(districts: list[District]) -> Grid:
    """~1 km cells clipped to each district, its population spread by the density surface."""
    geoms: list[object] = []
    dists: list[str] = []
    rows: list[int] = []
    cols: list[int] = []
    pops: list[NDArray[np.int64]] = []
    areas: list[float] = []
    x0, y0 = GRID_ORIGIN
    for d in districts:
        minx, miny, maxx, maxy = d.geom.bounds
        c0, c1 = int((minx - x0) // CELL_DLON), int((maxx - x0) // CELL_DLON) + 1
        r0, r1 = int((miny - y0) // CELL_DLAT), int((maxy - y0) // CELL_DLAT) + 1
        mesh_c, mesh_r = np.meshgrid(np.arange(c0, c1), np.arange(r0, r1))
        cc: NDArray[np.int64] = mesh_c.ravel()
        rr: NDArray[np.int64] = mesh_r.ravel()
        boxes = shapely.box(
            x0 + cc * CELL_DLON,
            y0 + rr * CELL_DLAT,
            x0 + (cc + 1) * CELL_DLON,
            y0 + (rr + 1) * CELL_DLAT,
        )
        shapely.prepare(d.geom)
        hit = shapely.intersects(d.geom, boxes)
        boxes, cc, rr = boxes[hit], cc[hit], rr[hit]
        edge = ~shapely.contains_properly(d.geom, boxes)
        clipped = boxes.copy()
        clipped[edge] = shapely.intersection(boxes[edge], d.geom)
        # km² from degree² at the cell's latitude (ample for weights and the size filter)
        lat = shapely.get_y(shapely.centroid(clipped))
        km2 = shapely.area(clipped) * 111.32**2 * np.cos(np.radians(lat))
        keep = km2 >= MIN_CELL_KM2
        clipped, cc, rr, km2 = clipped[keep], cc[keep], rr[keep], km2[keep]
        cen = shapely.point_on_surface(clipped)
        w = density(shapely.get_x(cen), shapely.get_y(cen)) * km2
        pops.append(apportion(DISTRICT_POPULATION[d.adcode], w))
        geoms.extend(_multipolygons(clipped).tolist())
        dists.extend([d.adcode] * len(clipped))
        rows.extend(rr.tolist())
        cols.extend(cc.tolist())
        areas.extend(km2.tolist())
    return Grid(
        geoms=np.array(geoms, dtype=object),
        district=np.array(dists),
        population=np.concatenate(pops),
        row=np.array(rows, dtype=np.int64),
        col=np.array(cols, dtype=np.int64),
        area_km2=np.array(areas),
    )
