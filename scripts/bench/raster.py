"""scripts.bench.raster: the worst raster request each route family accepts, on the demo city.

The Xi'an demo city in a scratch database, its risk surface built, and a population grid of
1000 x 1000 cells over the city (100 m, EPSG:4326, what a WorldPop extract looks like)
imported. Then, through the app in process (httpx over ASGI, the route's own bounds and
time limit, raised out of the way here so each request runs to its end), every request of
`WORST` is sent `ctx.repeat` times: the row is its slowest run, against an ordinary map tile
(the style's z14 tile over the centre, colormap and rescale) as the reference. The bound in
api/raster/bounds.py holds when every row stays under 1 s; `raster_time_limit_s` cuts off
the rest (503).

    python -m scripts.bench raster
"""

from __future__ import annotations

import io
import time
from typing import Any

import asyncpg
import httpx
import numpy as np
import rasterio
from rasterio.transform import from_origin

from api.auth.keys import create_key
from api.auth.roles import Role
from api.main import create_app
from api.raster import bounds as B
from api.raster.population import population_path
from scripts.bench import Context, Row, console, scratch_database

#: the tile the map asks for over Xi'an's centre (z14), with the style's rendering
MAP_TILE = "/raster/risk/tiles/WebMercatorQuad/14/13150/6530.png"
MAP_PARAMS = {"colormap_name": "onemap_risk", "rescale": "0,1"}
EXPRESSION = "((b1+1)*(b1+2)-(b1*3))/((b1+4)*(b1+5))+b1*b1*b1-b1/7+b1*0.5"
#: a heavy tile: the largest size, buffer, padding and the costliest resampling and warp
HEAVY = {
    "tilesize": str(max(B.TILE_SIZES)),
    "buffer": str(B.MAX_BUFFER_PX),
    "resampling": "cubic_spline",
    "reproject": "lanczos",
    "expression": EXPRESSION,
    "rescale": "0,1",
    "colormap_name": "onemap_risk",
}


def _square(lon: float, lat: float, d: float) -> dict[str, Any]:
    ring = [[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]
    return {"type": "Feature", "properties": {},
            "geometry": {"type": "Polygon", "coordinates": [ring]}}  # fmt: skip


def worst(surface: str) -> list[tuple[str, str, str, dict[str, Any], Any]]:
    """(family, method, path, query, body): the heaviest request each family accepts."""
    base = f"/raster/{surface}"
    padded = dict(HEAVY, padding=str(B.MAX_PADDING_PX))
    rows: list[tuple[str, str, str, dict[str, Any], Any]] = [
        ("tile z0 (whole world)", "GET", f"{base}/tiles/WebMercatorQuad/0/0/0.png", HEAVY, None),
        ("tile z2", "GET", f"{base}/tiles/WebMercatorQuad/2/3/1.png", HEAVY, None),
        (f"tile z{B.MIN_PADDING_ZOOM}, padded", "GET",
         f"{base}/tiles/WebMercatorQuad/{B.MIN_PADDING_ZOOM}/{13150 >> (14 - B.MIN_PADDING_ZOOM)}/"
         f"{6530 >> (14 - B.MIN_PADDING_ZOOM)}.png", padded, None),
        ("tile z4 (padding refused below z8)", "GET", f"{base}/tiles/WebMercatorQuad/4/12/6.png",
         HEAVY, None),
        ("tile z12, padded", "GET", f"{base}/tiles/WebMercatorQuad/12/3287/1632.png", padded,
         None),
        (f"tile z{B.MAX_ZOOM}, padded", "GET",
         f"{base}/tiles/WebMercatorQuad/{B.MAX_ZOOM}/210408/104486.png", padded, None),
        ("tile matrix set (html)", "GET", f"{base}/tiles/WebMercatorQuad",
         {"minzoom": "0", "maxzoom": str(B.MAX_ZOOM), "f": "html"}, None),
        ("tileset list (html)", "GET", f"{base}/tiles", {"f": "html"}, None),
        ("statistics, largest image", "GET", f"{base}/statistics",
         {"max_size": str(B.MAX_IMAGE_PX), "histogram_bins": str(B.MAX_BINS),
          "p": [str(i) for i in range(B.MAX_LIST)], "resampling": "cubic_spline"}, None),
        ("statistics, width x height", "GET", f"{base}/statistics",
         {"width": str(B.MAX_IMAGE_PX), "height": str(B.MAX_IMAGE_PX),
          "resampling": "cubic_spline", "reproject": "lanczos"}, None),
        ("statistics, 2 polygons x 1024 px", "POST", f"{base}/statistics",
         {"max_size": str(B.MAX_IMAGE_PX), "cover_scale": "4",
          "histogram_bins": str(B.MAX_BINS)},
         {"type": "FeatureCollection",
          "features": [_square(108.60 + 0.3 * i, 33.95, 0.6) for i in range(2)]}),
        (f"statistics, {B.MAX_FEATURES} polygons", "POST", f"{base}/statistics",
         {"cover_scale": str(B.MAX_COVER_SCALE // 2 + 1)},
         {"type": "FeatureCollection", "features": [
             _square(108.60 + 0.012 * i, 33.95, 0.6) for i in range(B.MAX_FEATURES)]}),
        ("info", "GET", f"{base}/info.geojson", {}, None),
        ("point", "GET", f"{base}/point/108.94,34.26", {"coord_crs": "EPSG:4326"}, None),
        ("tilejson", "GET", f"{base}/WebMercatorQuad/tilejson.json", {}, None),
    ]  # fmt: skip
    return rows


def population_grid() -> bytes:
    """1000 x 1000 cells of people over the demo city (about 100 m), a GeoTIFF."""
    rng = np.random.default_rng(7)
    data = rng.gamma(2.0, 40.0, size=(1000, 1000)).astype("float32")
    profile = {
        "driver": "GTiff", "dtype": "float32", "count": 1, "height": 1000, "width": 1000,
        "crs": "EPSG:4326", "transform": from_origin(108.40, 34.70, 0.001, 0.001),
        "tiled": True, "blockxsize": 256, "blockysize": 256,
    }  # fmt: skip
    with rasterio.MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data, 1)
        return bytes(mem.read())


async def run(ctx: Context) -> list[Row]:
    """Each family's worst accepted request, slowest of `ctx.repeat` runs, against a map tile."""
    from geodata.build import load_demo

    rows: list[Row] = []
    async with scratch_database(ctx.settings, "raster") as settings:
        await load_demo(settings, show_progress=False)
        conn = await asyncpg.connect(settings.database_url)
        try:
            key, _ = await create_key(conn, f"bench-{time.time_ns()}", Role.editor, "bench")
        finally:
            await conn.close()
        data_dir = settings.data_dir / "bench-raster"
        population_path(settings.model_copy(update={"data_dir": data_dir})).unlink(missing_ok=True)
        app = create_app(settings.model_copy(update={
            "grading_interval_s": 0, "raster_time_limit_s": 60.0, "data_dir": data_dir,
        }))  # fmt: skip
        async with app.router.lifespan_context(app), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench",
            headers={"X-API-Key": key}, timeout=120,
        ) as client:  # fmt: skip
            r = await client.post("/raster/risk/rebuild")
            _ok(r, "rebuild", (200, 201))
            r = await client.post(
                "/raster/population",
                files={"file": ("pop.tif", io.BytesIO(population_grid()), "image/tiff")},
            )
            _ok(r, "population import", (201,))
            ref, ref_cpu = await _slowest(client, ctx.repeat, "GET", MAP_TILE, MAP_PARAMS,
                                          None)  # fmt: skip
            for surface in ("risk", "population"):
                for family, method, path, params, body in worst(surface):
                    t, c = await _slowest(client, ctx.repeat, method, path, params, body)
                    console.print(f"  {surface:10} {family:28} {t * 1000:8.1f} ms wall "
                                  f"{c * 1000:8.1f} ms CPU")  # fmt: skip
                    rows.append(Row(
                        f"raster {surface}: worst {family}",
                        f"{t * 1000:.0f} ms ({c * 1000:.0f} ms CPU)",
                        f"{ref * 1000:.0f} ms ({ref_cpu * 1000:.0f} ms CPU; a map tile, z14)",
                        f"{ref / t:.2f}", "< 1 s",
                    ))  # fmt: skip
    return rows


def _ok(r: httpx.Response, what: str, statuses: tuple[int, ...]) -> None:
    if r.status_code not in statuses:
        raise RuntimeError(f"{what}: HTTP {r.status_code}: {r.text[:300]}")


async def _slowest(
    client: httpx.AsyncClient, repeat: int, method: str, path: str, params: Any, body: Any
) -> tuple[float, float]:
    """The slowest of `repeat` runs (after one warm-up), as wall time and as the process's
    CPU time (every thread: what the request cost the server, whatever else the machine
    runs); each must answer 200, or 404 for a tile outside the raster."""
    wall, cpu = [], []
    for i in range(repeat + 1):
        t0, c0 = time.perf_counter(), time.process_time()
        r = await client.request(method, path, params=params, json=body)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        _ok(r, f"{method} {path}", (200, 404))
        if i:
            wall.append(dt)
            cpu.append(dc)
    return max(wall), max(cpu)
