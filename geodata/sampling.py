"""geodata.sampling: deterministic placement of synthetic features inside their district.

Points are drawn cell by cell from the population grid, so they follow where
people live (denser in the urban core); every point is tested against its
district's boundary shrunk by ~30 m, so it lies inside the district it names.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from geodata.districts import District
from geodata.population import Grid, apportion

#: metres per degree of latitude, and of longitude at Xi'an
M_LAT = 111_320.0
M_LON = 111_320.0 * float(np.cos(np.radians(34.2)))


class Sampler:
    """Draws points inside districts, weighted by the population grid."""

    def __init__(self, districts: list[District], grid: Grid) -> None:
        """Index the grid cells by district."""
        self.districts = {d.adcode: d for d in districts}
        self.grid = grid
        self.bounds = shapely.bounds(grid.geoms)
        self.cells: dict[str, NDArray[np.int64]] = {
            a: np.flatnonzero(grid.district == a) for a in self.districts
        }
        for d in districts:
            shapely.prepare(d.inner)

    def district_pop(self, adcode: str) -> int:
        """Residents of a district (sum of its cells)."""
        return int(self.grid.population[self.cells[adcode]].sum())

    def split(
        self,
        total: int,
        rng: np.random.Generator,
        gamma: float = 1.0,
        factor: Mapping[str, float] | None = None,
        minimum: int = 0,
    ) -> dict[str, int]:
        """Share `total` features among districts by population**gamma × factor."""
        codes = list(self.districts)
        w = np.array([self.district_pop(a) ** gamma * (factor or {}).get(a, 1.0) for a in codes])
        w = w * rng.uniform(0.9, 1.1, len(w))
        counts = apportion(total, w, minimum)
        return dict(zip(codes, counts.tolist(), strict=True))

    def points(
        self,
        adcode: str,
        n: int,
        rng: np.random.Generator,
        gamma: float = 1.0,
        south_of: float | None = None,
        north_of: float | None = None,
    ) -> NDArray[np.float64]:
        """n points (lon, lat) inside the district, cells weighted by population**gamma."""
        if n == 0:
            return np.zeros((0, 2))
        idx = self.cells[adcode]
        pop = self.grid.population[idx].astype(np.float64)
        w = (pop + 1.0) ** gamma
        b = self.bounds[idx]
        lat_mid = (b[:, 1] + b[:, 3]) / 2
        if south_of is not None:
            w = np.where(lat_mid < south_of, w, w * 1e-6)
        if north_of is not None:
            w = np.where(lat_mid > north_of, w, w * 1e-6)
        w = w / w.sum()
        inner = self.districts[adcode].inner
        out: list[NDArray[np.float64]] = []
        need = n
        while need > 0:
            k = max(need * 2, 16)
            pick = rng.choice(len(idx), size=k, p=w)
            bb = b[pick]
            x = bb[:, 0] + rng.random(k) * (bb[:, 2] - bb[:, 0])
            y = bb[:, 1] + rng.random(k) * (bb[:, 3] - bb[:, 1])
            ok = shapely.contains_xy(inner, x, y)
            got = np.column_stack([x[ok], y[ok]])[:need]
            out.append(got)
            need -= len(got)
        return np.asarray(np.round(np.concatenate(out), 7), dtype=np.float64)

    def near(
        self, adcode: str, centre: tuple[float, float], radius_m: float, rng: np.random.Generator
    ) -> tuple[float, float]:
        """A point within radius_m of centre, inside the district (falls back to centre)."""
        inner = self.districts[adcode].inner
        for _ in range(50):
            r = radius_m * np.sqrt(rng.random())
            t = rng.random() * 2 * np.pi
            x = centre[0] + r * np.cos(t) / M_LON
            y = centre[1] + r * np.sin(t) / M_LAT
            if shapely.contains_xy(inner, x, y):
                return round(float(x), 7), round(float(y), 7)
        return centre

    def footprint(
        self,
        adcode: str,
        centre: tuple[float, float],
        width_m: float,
        height_m: float,
        angle: float,
    ) -> BaseGeometry:
        """A rotated rectangle around centre, clipped to the district: a small site outline."""
        hw, hh = width_m / 2, height_m / 2
        corners = np.array([(-hw, -hh), (hw, -hh), (hw, hh), (-hw, hh)])
        c, s = np.cos(angle), np.sin(angle)
        rot = corners @ np.array([[c, s], [-s, c]])
        ring = [
            (round(centre[0] + dx / M_LON, 7), round(centre[1] + dy / M_LAT, 7)) for dx, dy in rot
        ]
        poly: BaseGeometry = Polygon(ring)
        inner = self.districts[adcode].inner
        if not inner.contains(poly):
            poly = shapely.intersection(poly, inner)
        parts = [g for g in shapely.get_parts(poly) if isinstance(g, Polygon) and g.area > 0]
        if not parts:
            return Point(centre)
        return MultiPolygon(parts)


def metres_to_deg(dx: float, dy: float) -> tuple[float, float]:
    """Convert a local offset in metres to degrees (lon, lat) at Xi'an."""
    return dx / M_LON, dy / M_LAT
