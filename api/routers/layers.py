"""api.routers.layers: the layer catalogue and filtered feature pages (GeoJSON or CSV)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Path, Query, Request, Response
from starlette.datastructures import URL

from api.deps import Reader, ReadPoolDep, SettingsDep
from api.errors import BadRequest, NotFound
from api.layers import LAYERS, Layer, get_layer
from api.queries import features
from api.queries.catalogue import Catalogue, layer_json
from api.queries.request import __doc__ as SYNTAX
from api.queries.request import api_query
from api.query_params import OPEN_QUERY
from api.services import Services
from api.settings import Settings

router = APIRouter(tags=["layers"])

GEOJSON = "application/geo+json"


def catalogue(request: Request) -> Catalogue:
    """The app's catalogue cache (one per process, api/services.py)."""
    services: Services = request.app.state.services
    return services.catalogue


def layer_or_404(name: str) -> Layer:
    """The registry layer of that name, or a 404 listing them."""
    layer = get_layer(name)
    if layer is None:
        raise NotFound(f"no layer {name!r}; layers: {', '.join(LAYERS)}")
    return layer


def check_page(limit: int, offset: int, max_limit: int, settings: Settings, cap: str) -> None:
    """limit and offset within their caps (400 naming the cap)."""
    if limit > max_limit:
        raise BadRequest(f"limit={limit} is above the cap {cap}={max_limit}", cap=cap)
    if offset > settings.max_offset:
        raise BadRequest(
            f"offset={offset} is above the cap max_offset={settings.max_offset}; "
            "narrow the query with filters",
            cap="max_offset",
        )


def page_links(
    url: URL, limit: int, offset: int, returned: int, matched: int, media: str
) -> list[dict[str, str]]:
    """self, and next / prev when there are such pages."""
    links = [{"rel": "self", "type": media, "href": str(url)}]
    if offset + returned < matched:
        nxt = url.include_query_params(offset=offset + limit, limit=limit)
        links.append({"rel": "next", "type": media, "href": str(nxt)})
    if offset > 0:
        prev = url.include_query_params(offset=max(0, offset - limit), limit=limit)
        links.append({"rel": "prev", "type": media, "href": str(prev)})
    return links


def collection_bytes(head: dict[str, Any], feature_texts: list[str]) -> bytes:
    """A FeatureCollection: the head members, then the features spliced in as they came."""
    start = orjson.dumps({"type": "FeatureCollection", **head})[:-1]
    return start + b',"features":[' + ",".join(feature_texts).encode() + b"]}"


@router.get(
    "/layers",
    operation_id="listLayers",
    summary="The layer catalogue: names, titles, geometry, count, extent, typed fields",
)
async def list_layers(request: Request, who: Reader, pool: ReadPoolDep) -> dict[str, Any]:
    """Every layer with its exact count and WGS84 extent [minLon, minLat, maxLon, maxLat]."""
    async with pool.acquire() as conn:
        stats = await catalogue(request).stats(conn)
    return {"layers": [layer_json(layer, stats[name]) for name, layer in LAYERS.items()]}


@router.get(
    "/layers/{layer}",
    operation_id="getLayer",
    summary="One layer of the catalogue",
)
async def get_layer_entry(
    layer: Annotated[str, Path(examples=["risk_units"])],
    request: Request,
    who: Reader,
    pool: ReadPoolDep,
) -> dict[str, Any]:
    """The catalogue entry of one layer."""
    lyr = layer_or_404(layer)
    async with pool.acquire() as conn:
        stats = await catalogue(request).stats(conn)
    return layer_json(lyr, stats[lyr.name])


@router.get(
    "/layers/{layer}/features",
    operation_id="getLayerFeatures",
    summary="Features of a layer, filtered, sorted and paged: GeoJSON or CSV",
    description="Filters combine with AND.\n\n" + (SYNTAX or "").split("\n", 2)[-1],
    response_class=Response,
    responses={
        200: {
            "description": "a GeoJSON FeatureCollection (or CSV with f=csv)",
            "content": {GEOJSON: {}, "text/csv": {}},
        },
        400: {"description": "a bad filter, an unknown parameter, or a cap passed"},
    },
    openapi_extra={
        OPEN_QUERY: "any field of the layer: <field>=v, <field>.in=a,b, <field>.gte=v, "
        ".gt, .lte, .lt (see the description)",
    },
)
async def get_features(
    layer: Annotated[str, Path(examples=["risk_units"])],
    request: Request,
    who: Reader,
    pool: ReadPoolDep,
    settings: SettingsDep,
    category: Annotated[
        str | None, Query(description="category values, comma-separated", examples=["gas,power"])
    ] = None,
    level: Annotated[
        str | None, Query(description="level values, comma-separated", examples=["large,major"])
    ] = None,
    district: Annotated[str | None, Query(description="district codes, comma-separated")] = None,
    bbox: Annotated[
        str | None,
        Query(
            description="minLon,minLat,maxLon,maxLat (WGS84)", examples=["108.8,34.2,109.0,34.3"]
        ),
    ] = None,
    q: Annotated[str | None, Query(description="name contains / code starts with")] = None,
    updated_since: Annotated[
        str | None, Query(description="RFC 3339 date-time", examples=["2024-05-01T00:00:00Z"])
    ] = None,
    sort: Annotated[
        str | None, Query(description="fields, '-' for descending", examples=["-current_r,code"])
    ] = None,
    limit: Annotated[int | None, Query(ge=1, description="page size")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    f: Annotated[Literal["geojson", "csv"], Query(description="format")] = "geojson",
) -> Response:
    """A page of features; `numberMatched` counts them all, `links` lead to the next page."""
    lyr = layer_or_404(layer)
    size = limit or settings.features_default_limit
    check_page(size, offset, settings.features_max_limit, settings, "features_max_limit")
    query = api_query(lyr, request.query_params, size, offset)
    async with pool.acquire() as conn:
        matched = await features.count(conn, query)
        if f == "csv":
            rows = await features.page_rows(conn, query)
        else:
            texts = await features.page_geojson(conn, query)
    if f == "csv":
        return _csv(lyr, rows, matched)
    head = {
        "layer": lyr.name,
        "numberMatched": matched,
        "numberReturned": len(texts),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds"),
        "links": page_links(request.url, size, offset, len(texts), matched, GEOJSON),
    }
    return Response(collection_bytes(head, texts), media_type=GEOJSON)


def _csv(layer: Layer, rows: list[Any], matched: int) -> Response:
    names = [f.name for f in layer.all_fields] + ["lon", "lat", "wkt"]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow(["" if v is None else _cell(v) for v in row.values()])
    return Response(
        buf.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{layer.name}.csv"',
            "X-Total-Count": str(matched),
        },
    )


def _cell(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
