"""api.raster.population: a population raster a user imports, kept as a COG."""

from __future__ import annotations

import os
from pathlib import Path

import rasterio
from rasterio.errors import RasterioIOError
from rio_cogeo.cogeo import cog_translate
from rio_cogeo.profiles import cog_profiles

from api.errors import BadRequest
from api.raster.surface import raster_dir
from api.settings import Settings


def population_path(settings: Settings) -> Path:
    """The imported population raster (COG)."""
    return raster_dir(settings) / "population.tif"


def check_population(src: Path) -> dict[str, object]:
    """Open a GeoTIFF and check it can serve as a population grid; its summary."""
    try:
        with rasterio.open(src) as ds:
            if ds.driver != "GTiff":
                raise BadRequest(f"expected a GeoTIFF, got a {ds.driver} raster")
            if ds.crs is None:
                raise BadRequest("the raster has no coordinate reference system")
            if ds.count != 1:
                raise BadRequest(f"expected one band (people per cell), got {ds.count}")
            if ds.width * ds.height > 400_000_000:
                raise BadRequest("the raster is larger than 400 million cells")
            return {
                "crs": ds.crs.to_string(),
                "width": ds.width,
                "height": ds.height,
                "bounds": list(ds.bounds),
                "dtype": ds.dtypes[0],
            }
    except RasterioIOError as exc:
        raise BadRequest("not a readable GeoTIFF") from exc


def import_population(src: Path, settings: Settings) -> tuple[Path, dict[str, object]]:
    """Validate a GeoTIFF and write it as the population COG (atomically); path and summary."""
    summary = check_population(src)
    out = population_path(settings)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp.tif")
    cog_translate(str(src), str(tmp), cog_profiles.get("deflate"), in_memory=False, quiet=True)
    os.replace(tmp, out)
    return out, summary
