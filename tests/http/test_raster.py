"""The raster risk surface and the population grid, served through titiler."""

from __future__ import annotations

import io
import math

import asyncpg
import numpy as np
import rasterio
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate

from api.db import create_pool
from api.raster.surface import LEVEL_WEIGHTS, rebuild_risk_surface, risk_surface_path
from api.settings import Settings
from tests.conftest import app_client, role_headers

RISK_TILE = (
    "/raster/risk/tiles/WebMercatorQuad/14/13150/6530.png?colormap_name=onemap_risk&rescale=0,1"
)


def _png(data: bytes) -> np.ndarray:
    with rasterio.MemoryFile(data) as mem, mem.open() as src:
        return src.read()


async def test_risk_surface_is_a_cog_peaking_at_the_worst_units(tiles_db: Settings) -> None:
    """Kernel density weighted by level: a valid COG, 1.0 at its peak, near the major units."""
    pool = await create_pool(tiles_db, min_size=1, max_size=2)
    try:
        path = await rebuild_risk_surface(pool, tiles_db)
        graded = await pool.fetchval(
            "SELECT count(*) FROM risk_units "
            "WHERE coalesce(current_level, registered_level) IS NOT NULL"
        )
    finally:
        await pool.close()
    assert path == risk_surface_path(tiles_db)
    valid, errors, _warnings = cog_validate(str(path), quiet=True)
    assert valid, errors
    with rasterio.open(path) as src:
        band = src.read(1)
        assert src.crs.to_epsg() == 3857
        assert math.isclose(float(band.max()), 1.0, rel_tol=1e-6)
        row, col = np.unravel_index(int(band.argmax()), band.shape)
        x, y = src.xy(row, col)
        tags = src.tags()
    assert tags["onemap_units"] == str(graded)  # RU6, ungraded, counts at its registered level
    assert tags["onemap_weights"] == str(LEVEL_WEIGHTS)
    # the city-centre cluster (two large, one major, general, low) outweighs the slope pair
    lon = math.degrees(x / 6378137)
    assert 108.90 < lon < 109.00


async def test_risk_tile_through_titiler(tiles_db: Settings) -> None:
    """A PNG tile of the surface with the risk colormap; built on first use; Reader only."""
    headers = await role_headers(tiles_db)
    async with app_client(tiles_db) as client:
        assert (await client.get(RISK_TILE)).status_code == 401
        r = await client.get(RISK_TILE, headers=headers["viewer"])
        info = await client.get("/raster/risk/info", headers=headers["viewer"])
        outside = await client.get(
            "/raster/risk/tiles/WebMercatorQuad/14/0/0.png", headers=headers["viewer"]
        )
        probe = await client.get("/raster/risk/info?url=/etc/passwd", headers=headers["viewer"])
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    rgba = _png(r.content)
    assert rgba.shape == (4, 256, 256)
    alpha = rgba[3]
    assert alpha.max() > 0  # the centre is covered
    assert info.json()["crs"].endswith("EPSG/0/3857")
    assert outside.status_code == 404
    # no caller-supplied path ever reaches the reader: `url` is not a parameter here
    assert probe.status_code == 400
    assert probe.json()["unknown"] == ["url"]
    assert risk_surface_path(tiles_db).is_file()


def _population_tiff() -> bytes:
    data = np.arange(100, dtype="float32").reshape(10, 10) * 10
    buf = io.BytesIO()
    profile = {
        "driver": "GTiff",
        "dtype": "float32",
        "count": 1,
        "height": 10,
        "width": 10,
        "crs": "EPSG:4326",
        "transform": from_origin(108.90, 34.30, 0.01, 0.01),
    }
    with rasterio.MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data, 1)
        buf.write(mem.read())
    return buf.getvalue()


async def test_population_raster_import_and_tiles(tiles_db: Settings) -> None:
    """An editor uploads a GeoTIFF; it is served the same way; others may not upload."""
    headers = await role_headers(tiles_db)
    tile = (
        "/raster/population/tiles/WebMercatorQuad/12/3287/1632.png"
        "?colormap_name=onemap_population&rescale=0,1000"
    )
    files = {"file": ("pop.tif", _population_tiff(), "image/tiff")}
    async with app_client(tiles_db) as client:
        missing = await client.get("/raster/population/info", headers=headers["viewer"])
        refused = await client.post("/raster/population", files=files, headers=headers["viewer"])
        junk = await client.post(
            "/raster/population",
            files={"file": ("x.tif", b"not a tiff", "image/tiff")},
            headers=headers["editor"],
        )
        created = await client.post("/raster/population", files=files, headers=headers["editor"])
        r = await client.get(tile, headers=headers["viewer"])
    assert missing.status_code == 404
    assert refused.status_code == 403
    assert junk.status_code == 400
    assert created.status_code == 201, created.text
    assert created.json()["width"] == 10
    assert r.status_code == 200
    assert _png(r.content)[3].max() > 0
    conn = await asyncpg.connect(tiles_db.database_url)
    try:
        action = await conn.fetchval(
            "SELECT action FROM audit_log WHERE target = 'population' ORDER BY id DESC LIMIT 1"
        )
    finally:
        await conn.close()
    assert action == "raster.import"


async def test_rebuild_endpoint_needs_editor(tiles_db: Settings) -> None:
    """POST /raster/risk/rebuild: editor yes (audited), viewer 403, nobody 401."""
    headers = await role_headers(tiles_db)
    async with app_client(tiles_db) as client:
        assert (await client.post("/raster/risk/rebuild")).status_code == 401
        viewer = await client.post("/raster/risk/rebuild", headers=headers["viewer"])
        editor = await client.post("/raster/risk/rebuild", headers=headers["editor"])
    assert viewer.status_code == 403
    assert editor.status_code == 200
    assert editor.json()["file"] == "risk_surface.tif"
