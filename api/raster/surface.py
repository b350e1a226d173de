"""api.raster.surface: the risk-density surface (kernel density of risk units by level) as a COG."""

from __future__ import annotations

import asyncio
import logging
import math
import os
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import numpy as np
import rasterio
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from api.settings import Settings

log = logging.getLogger("onemap.raster")

#: weight of a risk unit in the density, by level (each level doubles the weight)
LEVEL_WEIGHTS = {"low": 1.0, "general": 2.0, "large": 4.0, "major": 8.0}
#: grid cell and Gaussian kernel bandwidth, in Web Mercator metres
CELL_M = 100.0
BANDWIDTH_M = 800.0
#: cells below this share of the peak are left transparent (nodata)
FLOOR = 0.01
MAX_CELLS = 4096

_UNITS = """
SELECT ST_X(p) AS x, ST_Y(p) AS y, level
  FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 3857) AS p,
               coalesce(current_level, registered_level) AS level
          FROM risk_units) u
 WHERE level IS NOT NULL
"""


def raster_dir(settings: Settings) -> Path:
    """Where the service keeps its rasters."""
    return Path(settings.data_dir) / "raster"


def risk_surface_path(settings: Settings) -> Path:
    """The risk surface COG."""
    return raster_dir(settings) / "risk_surface.tif"


def _gaussian(sigma_cells: float) -> np.ndarray:
    radius = max(1, int(math.ceil(3 * sigma_cells)))
    k = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma_cells) ** 2)
    return k / k.sum()


def _blur(grid: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable convolution: rows, then columns ('same' size)."""
    rows = np.apply_along_axis(np.convolve, 1, grid, kernel, mode="same")
    return np.apply_along_axis(np.convolve, 0, rows, kernel, mode="same")


def density(
    xs: np.ndarray, ys: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Kernel density around the points: (grid scaled to 0..1, (west, north, cell size))."""
    if len(xs) == 0:
        return np.zeros((1, 1), dtype="float32"), (0.0, 0.0, CELL_M)
    pad = 4 * BANDWIDTH_M
    west, east = float(xs.min()) - pad, float(xs.max()) + pad
    south, north = float(ys.min()) - pad, float(ys.max()) + pad
    cell = max(CELL_M, (east - west) / MAX_CELLS, (north - south) / MAX_CELLS)
    width = int(math.ceil((east - west) / cell))
    height = int(math.ceil((north - south) / cell))
    cols = np.clip(((xs - west) / cell).astype(int), 0, width - 1)
    rows = np.clip(((north - ys) / cell).astype(int), 0, height - 1)
    grid = np.zeros((height, width), dtype="float64")
    np.add.at(grid, (rows, cols), weights)
    grid = _blur(grid, _gaussian(BANDWIDTH_M / cell))
    peak = float(grid.max())
    if peak > 0:
        grid /= peak
    grid[grid < FLOOR] = 0.0
    return grid.astype("float32"), (west, north, cell)


def write_cog(grid: np.ndarray, origin: tuple[float, float, float], path: Path, tags: dict) -> Path:
    """Write a float32 EPSG:3857 grid as a Cloud-Optimized GeoTIFF, atomically."""
    west, north, cell = origin
    profile = {
        "driver": "GTiff",
        "dtype": "float32",
        "count": 1,
        "height": grid.shape[0],
        "width": grid.shape[1],
        "crs": "EPSG:3857",
        "transform": from_origin(west, north, cell, cell),
        "nodata": 0.0,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp.tif")
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(grid, 1)
            dst.update_tags(**{k: str(v) for k, v in tags.items()})
        with mem.open() as src:
            cog_translate(
                src,
                str(tmp),
                cog_profiles.get("deflate"),
                in_memory=True,
                quiet=True,
                overview_resampling="average",
                additional_cog_metadata={k: str(v) for k, v in tags.items()},
            )
    os.replace(tmp, path)
    return path


async def rebuild_risk_surface(pool: asyncpg.Pool, settings: Settings) -> Path:
    """Recompute the risk-density surface from risk_units and write it as a COG; its path."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(_UNITS)
    xs = np.array([r["x"] for r in rows], dtype="float64")
    ys = np.array([r["y"] for r in rows], dtype="float64")
    ws = np.array([LEVEL_WEIGHTS[r["level"]] for r in rows], dtype="float64")
    tags = {
        "onemap_surface": "risk density: Gaussian kernel of risk units weighted by level",
        "onemap_weights": LEVEL_WEIGHTS,
        "onemap_bandwidth_m": BANDWIDTH_M,
        "onemap_units": len(rows),
        "onemap_built_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }

    def build() -> Path:
        grid, origin = density(xs, ys, ws)
        return write_cog(grid, origin, risk_surface_path(settings), tags)

    path = await asyncio.to_thread(build)
    log.info("risk surface rebuilt from %d units: %s", len(rows), path)
    return path


def read_peak(path: Path) -> float:
    """The largest value in a raster (1.0 for the normalised risk surface)."""
    with rasterio.open(path) as src:
        return float(src.read(1, masked=True).max())
