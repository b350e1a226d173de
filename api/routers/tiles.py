"""api.routers.tiles: vector tiles, TileJSON and the MapLibre style (Reader role).

The tile route reads its path and query itself (no per-parameter validation
machinery on the hot path) and checks the credential through the key cache
before any cache or database is consulted.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from api.auth.principal import authenticate
from api.auth.roles import Permission
from api.errors import Forbidden
from api.query_params import OPEN_QUERY
from api.raster.population import population_path
from api.tiles.request import bind_filters, parse_filters, parse_zxy, resolve_layers
from api.tiles.service import TileService
from api.tiles.style import style_document
from api.tiles.tilejson import public_base, tilejson_document

router = APIRouter(tags=["tiles"])

MVT = "application/vnd.mapbox-vector-tile"
CACHE_CONTROL = "private, no-cache"


async def require_reader(request: Request) -> None:
    """401 without a credential, 403 without the read permission (key cache: no query)."""
    principal = await authenticate(request)
    if Permission.read not in principal.permissions:
        raise Forbidden(f"the {principal.role.value} role may not read the map")


def _accepts_gzip(request: Request) -> bool:
    value = request.headers.get("accept-encoding", "")
    if "gzip" not in value:
        return False
    for part in value.split(","):
        name, _, q = part.strip().partition(";")
        if name.strip() == "gzip":
            return q.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def _param(name: str, description: str, example: Any) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
        "example": example,
    }


def _query(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


_FILTER_DOCS = [
    _query("level", "levels to keep (comma-separated or repeated), e.g. major,large"),
    _query("category", "categories to keep (the layer's category field)"),
    _query("district", "district codes to keep"),
]
_TILE_DOC = {
    "parameters": [
        _param("layers", "a layer, several (comma-separated), or `onemap`", "risk_units"),
        _param("z", "zoom", 12),
        _param("x", "column", 3290),
        _param("y", "row (file name `{y}.mvt`)", "1634.mvt"),
        *_FILTER_DOCS,
    ],
    "responses": {
        "200": {"description": "the tile", "content": {MVT: {}}},
        "204": {"description": "the tile is empty"},
        "304": {"description": "unchanged since the ETag sent in If-None-Match"},
    },
}


async def serve_tile(request: Request, layers_name: str, z: str, x: str, y: str) -> Response:
    """MVT bytes; gzip when accepted; ETag + 304; 204 when empty; 400 before any query."""
    service: TileService = request.app.state.tiles
    zi, xi, yi = parse_zxy(z, x, y, service.max_zoom)
    layers = resolve_layers(layers_name, zi)
    filters = parse_filters(request.query_params) if request.scope["query_string"] else ()
    params = bind_filters(layers, filters)
    await require_reader(request)
    key, etag = await service.key(layers, filters, zi, xi, yi)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "Vary": "Accept-Encoding"}
    inm = request.headers.get("if-none-match")
    if inm is not None and (inm == etag or etag in inm.split(", ") or inm == "*"):
        return Response(status_code=304, headers=headers)
    tile = await service.tile(key, etag, params)
    if not tile.data:
        return Response(status_code=204, headers=headers)
    if _accepts_gzip(request):
        headers["Content-Encoding"] = "gzip"
        return Response(tile.gzipped(), media_type=MVT, headers=headers)
    return Response(tile.data, media_type=MVT, headers=headers)


@router.get(
    "/tiles/{layers}/{z}/{x}/{y}.mvt",
    operation_id="getTile",
    summary="A Mapbox vector tile of one layer, several, or the composite `onemap`",
    openapi_extra={**_TILE_DOC, OPEN_QUERY: "category, district, level (parse_filters)"},
    response_class=Response,
)
async def get_tile(request: Request) -> Response:
    """The documented route; in the running app `TileFastPath` answers before routing."""
    path = request.path_params
    return await serve_tile(request, path["layers"], path["z"], path["x"], path["y"])


@router.get(
    "/tiles/{layers}/tilejson.json",
    operation_id="getTileJSON",
    summary="TileJSON 3.0 for a layer, several, or the composite `onemap`",
    openapi_extra={"parameters": _FILTER_DOCS, OPEN_QUERY: "category, district, level"},
)
async def get_tilejson(layers: str, request: Request) -> JSONResponse:
    """The tile URL template (filters carried along), vector_layers, zooms and bounds."""
    names = resolve_layers(layers, None)
    filters = parse_filters(request.query_params) if request.scope["query_string"] else ()
    bind_filters(names, filters)
    await require_reader(request)
    service: TileService = request.app.state.tiles
    doc = tilejson_document(layers, names, filters, public_base(request), service)
    return JSONResponse(doc, headers={"Cache-Control": CACHE_CONTROL})


@router.get(
    "/styles/onemap.json",
    operation_id="getStyle",
    summary="The MapLibre style of the one map (four-colour risk styling, every source)",
)
async def get_style(request: Request) -> JSONResponse:
    """A MapLibre GL style v8 whose URLs are right behind a reverse proxy."""
    await require_reader(request)
    population = population_path(request.app.state.settings).is_file()
    doc = style_document(public_base(request), request.app.state.tiles.max_zoom, population)
    return JSONResponse(doc, headers={"Cache-Control": CACHE_CONTROL})
