"""api.routers.raster: titiler's TilerFactory for the risk surface and the population grid.

Each surface is a fixed file under the data dir (no caller-supplied URL ever
reaches the reader), mounted at /raster/risk and /raster/population behind
the Reader role; rebuilding and importing need the Editor role.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import morecantile
import rasterio
from fastapi import APIRouter, Depends, FastAPI, File, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import Field
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds
from rio_tiler.colormap import cmap as default_cmap
from rio_tiler.errors import RioTilerError, TileOutsideBounds
from titiler.core.dependencies import PartFeatureParams, create_colormap_dependency
from titiler.core.factory import TilerFactory

from api import audit
from api.auth.roles import Permission
from api.deps import CityEditor, Editor, PoolDep, SettingsDep, require
from api.errors import NotFound, PayloadTooLarge, problem
from api.raster.bounds import DEFAULT_PART_PX, TILE_MATRIX_SETS
from api.raster.errors import raster_route
from api.raster.population import import_population, population_path
from api.raster.surface import rebuild_risk_surface, risk_surface_path
from api.settings import Settings
from api.tiles.style import (
    COLOUR_HEX,
    RASTER_MAXZOOM,
    RASTER_MINZOOM,
    raster_tiles_url,
)
from api.tiles.tilejson import public_base


def _hex(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def _ramp(stops: list[tuple[int, str, int]]) -> dict[int, tuple[int, int, int, int]]:
    """A 256-entry colormap interpolated between (value, hex colour, alpha) stops."""
    out: dict[int, tuple[int, int, int, int]] = {0: (0, 0, 0, 0)}
    for (v0, c0, a0), (v1, c1, a1) in zip(stops, stops[1:], strict=False):
        r0, r1 = _hex(c0), _hex(c1)
        for v in range(max(v0, 1), v1 + 1):
            t = (v - v0) / (v1 - v0)
            rgb = tuple(round(p + (q - p) * t) for p, q in zip(r0, r1, strict=True))
            out[v] = (rgb[0], rgb[1], rgb[2], round(a0 + (a1 - a0) * t))
    return out


RISK_COLORMAP = _ramp(
    [
        (0, COLOUR_HEX["blue"], 90),
        (85, COLOUR_HEX["yellow"], 150),
        (170, COLOUR_HEX["orange"], 190),
        (255, COLOUR_HEX["red"], 230),
    ]
)
POPULATION_COLORMAP = _ramp([(0, "#f3e5f5", 60), (128, "#8e24aa", 160), (255, "#311b92", 220)])
COLORMAPS = default_cmap.register(
    {"onemap_risk": RISK_COLORMAP, "onemap_population": POPULATION_COLORMAP}
)

router = APIRouter(prefix="/raster", tags=["raster"])


async def _risk_path(request: Request) -> str:
    """The risk surface COG, built on first use when no regrade has written it yet."""
    settings: Settings = request.app.state.settings
    path = risk_surface_path(settings)
    if not path.is_file():
        lock: asyncio.Lock = request.app.state.services.raster_lock
        async with lock:
            if not path.is_file():
                await rebuild_risk_surface(request.app.state.pool, settings)
    return str(path)


def _population_path(request: Request) -> str:
    """The imported population COG (404 until one is imported)."""
    path = population_path(request.app.state.settings)
    if not path.is_file():
        raise NotFound("no population raster has been imported (POST /raster/population)")
    return str(path)


#: only the tile matrix sets the map uses (titiler offers a dozen, some very costly)
SUPPORTED_TMS = morecantile.TileMatrixSets(
    {name: morecantile.tms.get(name) for name in TILE_MATRIX_SETS}
)


@dataclass
class PartParams(PartFeatureParams):
    """POST statistics: each feature read onto at most DEFAULT_PART_PX pixels unless asked
    (titiler reads at the raster's full resolution; api.raster.bounds budgets the rest)."""

    max_size: Annotated[
        int | None,
        Field(description="Maximum image size to read onto (onemap's default: 128)."),
    ] = DEFAULT_PART_PX


def _no_algorithm() -> None:
    """No post-processing algorithms: the map uses none, and some are costly."""
    return None


def _factory(
    prefix: str, path_dependency: Callable[..., Any], route_class: type[APIRoute]
) -> TilerFactory:
    factory = TilerFactory(
        path_dependency=path_dependency,
        colormap_dependency=create_colormap_dependency(COLORMAPS),
        process_dependency=_no_algorithm,
        img_part_dependency=PartParams,
        supported_tms=SUPPORTED_TMS,
        router_prefix=prefix,
        add_preview=False,
        add_part=False,
        add_viewer=False,
        router=APIRouter(route_class=route_class),
    )
    # onemap's own TileJSON (below) replaces titiler's: its tiles render like the map
    factory.router.routes = [
        r for r in factory.router.routes if not getattr(r, "path", "").endswith("/tilejson.json")
    ]
    return factory


def _bounds_wgs84(path: str) -> list[float]:
    """The raster's extent in longitude/latitude."""
    with rasterio.open(path) as src:
        return [round(v, 6) for v in transform_bounds(src.crs, "EPSG:4326", *src.bounds)]


def _tilejson_route(
    name: str, path_dependency: Callable[..., Any], route_class: type[APIRoute]
) -> APIRouter:
    """GET /raster/{name}/{tileMatrixSetId}/tilejson.json: TileJSON 3.0 as the style uses it."""
    tj = APIRouter(route_class=route_class)
    title = {"risk": "risk-density surface", "population": "population grid"}[name]

    @tj.get(
        "/{tileMatrixSetId}/tilejson.json",
        operation_id=f".raster.{name}.getTileJSON",
        summary=f"TileJSON 3.0 of the {title}: tiles rendered as the map renders them",
    )
    async def tilejson(
        request: Request,
        tileMatrixSetId: Annotated[  # noqa: N803 - titiler's name for it
            Literal["WebMercatorQuad"], PathParam(description="the tile matrix set the map uses")
        ],
        src_path: str = Depends(path_dependency),
    ) -> dict[str, Any]:
        """The tile URL with the style's colormap and rescale, and the style's zoom range."""
        west, south, east, north = await asyncio.to_thread(_bounds_wgs84, src_path)
        return {
            "tilejson": "3.0.0",
            "name": f"onemap {title}",
            "scheme": "xyz",
            "tiles": [raster_tiles_url(public_base(request), name)],
            "vector_layers": [],
            "minzoom": RASTER_MINZOOM,
            "maxzoom": RASTER_MAXZOOM,
            "bounds": [west, south, east, north],
            "center": [round((west + east) / 2, 6), round((south + north) / 2, 6), 10],
        }

    return tj


@router.post(
    "/risk/rebuild",
    operation_id="rebuildRiskSurface",
    summary="Recompute the risk-density surface now (it is also rebuilt after each full regrade)",
)
async def post_rebuild(editor: Editor, pool: PoolDep, settings: SettingsDep) -> dict[str, Any]:
    """Rebuild the COG from the current levels."""
    path = await rebuild_risk_surface(pool, settings)
    async with pool.acquire() as conn:
        await audit.record(conn, editor, "raster.rebuild", "risk_surface", [path.name])
    return {"surface": "risk", "file": path.name, "size_bytes": path.stat().st_size}


@router.post(
    "/population",
    operation_id="importPopulationRaster",
    status_code=201,
    summary="Import a population GeoTIFF (one band, people per cell); served at /raster/population",
)
async def post_population(
    editor: CityEditor,  # the city's one population surface: city-wide editors only
    pool: PoolDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="a GeoTIFF")],
) -> dict[str, Any]:
    """Store the raster as a COG (replacing the previous one)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "upload.tif"
        size = 0
        with src.open("wb") as out:
            while chunk := await file.read(1 << 20):
                size += len(chunk)
                if size > settings.max_upload_bytes:
                    raise PayloadTooLarge(f"the upload exceeds {settings.max_upload_bytes} bytes")
                out.write(chunk)
        path, summary = await asyncio.to_thread(import_population, src, settings)
    async with pool.acquire() as conn:
        await audit.record(
            conn, editor, "raster.import", "population", [file.filename or "upload"], **summary
        )
    return {"surface": "population", "file": path.name, **summary}


def install_raster(app: FastAPI) -> None:
    """Mount the raster routes (titiler behind the Reader role) and their error mapping."""
    reader = [Depends(require(Permission.read))]
    app.include_router(router)
    # the risk surface is built (once, after a regrade) before a request's time limit starts
    for name, dep, prepare in (
        ("risk", _risk_path, _risk_path),
        ("population", _population_path, None),
    ):
        route_class = raster_route(prepare)
        factory = _factory(f"/raster/{name}", dep, route_class)
        for part in (_tilejson_route(name, dep, route_class), factory.router):
            app.include_router(part, prefix=f"/raster/{name}", tags=["raster"], dependencies=reader)

    @app.exception_handler(TileOutsideBounds)
    async def _outside(request: Request, exc: Exception) -> JSONResponse:
        return problem(404, "Not found", "the tile lies outside the raster")

    @app.exception_handler(RioTilerError)
    async def _tiler(request: Request, exc: Exception) -> JSONResponse:
        return problem(400, "Bad request", str(exc) or "the raster request is not valid")

    @app.exception_handler(RasterioError)
    async def _rasterio(request: Request, exc: Exception) -> JSONResponse:
        return problem(500, "Internal error", "the raster could not be read")
