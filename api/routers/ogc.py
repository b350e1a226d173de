"""api.routers.ogc: OGC API - Features Part 1 Core (GeoJSON, OpenAPI 3.0) under /ogc."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal, TypeVar

import orjson
from fastapi import APIRouter, Path, Query, Request, Response

from api.deps import Reader, ReadPoolDep, SettingsDep
from api.errors import BadRequest, NotFound
from api.layers import LAYERS, Layer
from api.queries import features
from api.queries.catalogue import LayerStats
from api.queries.ogc import CRS84, OAS30, feature_schema, openapi_document
from api.queries.ogc_schema import QUERYABLES_REL, SCHEMA_REL, queryables, returnables
from api.queries.request import ogc_query
from api.query_params import OPEN_QUERY
from api.routers.layers import catalogue, check_page, collection_bytes, page_links

router = APIRouter(prefix="/ogc", tags=["OGC API Features"])

JSON = "application/json"
GEOJSON = "application/geo+json"
SCHEMA = "application/schema+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
]
#: Part 2 (CRS by reference): the one CRS offered, as its URI or its safe CURIE
CRS_NAMES = frozenset({CRS84, "[OGC:CRS84]"})
CONTENT_CRS = {"Content-Crs": f"<{CRS84}>"}

Format = Annotated[Literal["json"] | None, Query(description="output format: json")]

_F = TypeVar("_F", bound=Callable[..., Any])


def _get(path: str, **kwargs: Any) -> Callable[[_F], _F]:
    """GET `path` and `path/` alike (OGC clients ask for both): no redirect, one handler.

    The trailing-slash form answers exactly as the other and stays out of the
    OpenAPI documents.
    """

    def register(handler: _F) -> _F:
        router.get(path, **kwargs)(handler)
        alias = {k: v for k, v in kwargs.items() if k not in ("name", "operation_id")}
        name = f"{kwargs.get('name') or handler.__name__}_slash"
        router.get(f"{path}/", name=name, include_in_schema=False, **alias)(handler)
        return handler

    return register


def _base(request: Request) -> str:
    """The absolute URL of /ogc as the client sees it."""
    return str(request.url_for("ogcLanding")).rstrip("/")


def _json(body: Any, media: str = JSON) -> Response:
    return Response(orjson.dumps(body), media_type=media)


def _collection(layer: Layer, stats: LayerStats, base: str) -> dict[str, Any]:
    href = f"{base}/collections/{layer.name}"
    out: dict[str, Any] = {
        "id": layer.name,
        "title": f"{layer.title} {layer.title_zh}",
        "description": layer.description,
        "itemType": "feature",
        "crs": [CRS84],
        "storageCrs": CRS84,
        "links": [
            {"rel": "self", "type": JSON, "title": "this collection", "href": href},
            {"rel": "items", "type": GEOJSON, "title": "its features", "href": f"{href}/items"},
            {
                "rel": "describedby",
                "type": SCHEMA,
                "title": "JSON Schema of its GeoJSON features (typed properties)",
                "href": f"{href}/feature-schema",
            },
            {
                "rel": SCHEMA_REL,
                "type": SCHEMA,
                "title": "its schema: typed properties and the geometry type (Part 5)",
                "href": f"{href}/schema",
            },
            {
                "rel": QUERYABLES_REL,
                "type": SCHEMA,
                "title": "what its items filter on (Part 3 queryables)",
                "href": f"{href}/queryables",
            },
        ],
    }
    extent: dict[str, Any] = {}
    if stats.extent:
        extent["spatial"] = {"bbox": [list(stats.extent)], "crs": CRS84}
    if stats.time_min is not None:
        extent["temporal"] = {
            "interval": [
                [stats.time_min.isoformat(), stats.time_max and stats.time_max.isoformat()]
            ],
            "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian",
        }
    if extent:
        out["extent"] = extent
    return out


def check_crs(name: str, value: str | None) -> None:
    """`crs` / `bbox-crs`: CRS84 is the only one offered (Part 2 /req/crs/crs-action), else 400."""
    if value is not None and value not in CRS_NAMES:
        raise BadRequest(
            f"{name}: {value[:200]!r} is not offered; the only CRS is {CRS84} "
            "(OGC API Features Part 2, /req/crs/crs-action)"
        )


def _collection_layer(collection_id: str) -> Layer:
    layer = LAYERS.get(collection_id)
    if layer is None:
        raise NotFound(f"no collection {collection_id!r}; see /ogc/collections")
    return layer


@_get("", name="ogcLanding", operation_id="ogcLanding", summary="OGC API Features landing page")
async def landing(request: Request, who: Reader, f: Format = None) -> Response:
    """Links to the API definition, the conformance classes and the collections."""
    base = _base(request)
    return _json(
        {
            "title": "onemap: city safety risk layers",
            "description": "Risk units, hazard sources, monitoring, shelters, depots, teams and "
            "more, as OGC API Features (GeoJSON, CRS84).",
            "links": [
                {"rel": "self", "type": JSON, "title": "this document", "href": base},
                {
                    "rel": "service-desc",
                    "type": OAS30,
                    "title": "the API definition (OpenAPI 3.0)",
                    "href": f"{base}/api",
                },
                {
                    "rel": "service-doc",
                    "type": "text/html",
                    "title": "the API documentation",
                    "href": str(request.url_for("swagger_ui_html")),
                },
                {
                    "rel": "conformance",
                    "type": JSON,
                    "title": "conformance classes",
                    "href": f"{base}/conformance",
                },
                {
                    "rel": "data",
                    "type": JSON,
                    "title": "collections",
                    "href": f"{base}/collections",
                },
            ],
        }
    )


@_get(
    "/api",
    operation_id="ogcApi",
    summary="The OpenAPI 3.0 definition of /ogc",
    responses={200: {"content": {OAS30: {}}}},
)
async def api_definition(
    request: Request, who: Reader, settings: SettingsDep, f: Format = None
) -> Response:
    """OpenAPI 3.0 (application/vnd.oai.openapi+json;version=3.0)."""
    doc = openapi_document(_base(request), settings.ogc_max_limit, settings.ogc_default_limit)
    return _json(doc, OAS30)


@_get("/conformance", operation_id="ogcConformance", summary="Conformance classes")
async def conformance(who: Reader, f: Format = None) -> Response:
    """Core, GeoJSON, OpenAPI 3.0 and Part 2 CRS (CRS84 only)."""
    return _json({"conformsTo": CONFORMANCE})


@_get("/collections", operation_id="ogcCollections", summary="The collections")
async def collections(
    request: Request, who: Reader, pool: ReadPoolDep, f: Format = None
) -> Response:
    """One collection per layer, with its extent."""
    base = _base(request)
    async with pool.acquire() as conn:
        stats = await catalogue(request).stats(conn)
    return _json(
        {
            "links": [{"rel": "self", "type": JSON, "href": f"{base}/collections"}],
            "crs": [CRS84],
            "collections": [_collection(lyr, stats[n], base) for n, lyr in LAYERS.items()],
        }
    )


@_get("/collections/{collectionId}", operation_id="ogcCollection", summary="One collection")
async def collection(
    collectionId: Annotated[str, Path(examples=["risk_units"])],  # noqa: N803 - OGC's name
    request: Request,
    who: Reader,
    pool: ReadPoolDep,
    f: Format = None,
) -> Response:
    """The collection's description and links."""
    layer = _collection_layer(collectionId)
    async with pool.acquire() as conn:
        stats = await catalogue(request).stats(conn)
    return _json(_collection(layer, stats[layer.name], _base(request)))


def _schema_document(
    suffix: str,
    name: str,
    summary: str,
    doc: str,
    build: Callable[[Layer, str], dict[str, Any]],
) -> None:
    """GET /collections/{collectionId}/<suffix>: a JSON Schema document of the collection,
    `build(layer, its own URL)`; the schema, the queryables and the feature schema alike."""

    async def document(
        collectionId: Annotated[str, Path(examples=["risk_units"])],  # noqa: N803 - OGC's name
        request: Request,
        who: Reader,
        f: Format = None,
    ) -> Response:
        layer = _collection_layer(collectionId)
        url = f"{_base(request)}/collections/{layer.name}/{suffix}"
        return _json(build(layer, url), SCHEMA)

    document.__name__ = document.__qualname__ = name
    document.__doc__ = doc
    operation_id = "ogc" + "".join(part.title() for part in suffix.split("-"))
    _get(f"/collections/{{collectionId}}/{suffix}", operation_id=operation_id, summary=summary,
         responses={200: {"content": {SCHEMA: {}}}})(document)  # fmt: skip


_schema_document(
    "schema", "schema",
    "The collection's schema: typed properties and geometry type (Part 5)",
    "Each property typed, the id and time roles, and the primary geometry with its type.",
    returnables,
)  # fmt: skip
_schema_document(
    "queryables", "queryables_doc",
    "What the collection's items filter on (Part 3 queryables)",
    "Every property (property=value) and the geometry (bbox), typed.",
    queryables,
)  # fmt: skip
_schema_document(
    "feature-schema", "geojson_schema",
    "JSON Schema of a collection's GeoJSON features (typed properties)",
    "The `describedby` document: a GeoJSON Feature whose properties are typed (GDAL reads it).",
    feature_schema,
)  # fmt: skip


@_get(
    "/collections/{collectionId}/items",
    operation_id="ogcItems",
    summary="Features of a collection (bbox, datetime, property=value, limit/offset)",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}},
    openapi_extra={OPEN_QUERY: "property=value for any property of the collection"},
)
async def items(
    collectionId: Annotated[str, Path(examples=["risk_units"])],  # noqa: N803
    request: Request,
    who: Reader,
    pool: ReadPoolDep,
    settings: SettingsDep,
    bbox: Annotated[str | None, Query(description="minLon,minLat,maxLon,maxLat")] = None,
    datetime_: Annotated[str | None, Query(alias="datetime", description="RFC 3339")] = None,
    limit: Annotated[
        int | None, Query(ge=1, description="features per page (above the maximum: the maximum)")
    ] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    crs: Annotated[str | None, Query(description=f"output CRS: only {CRS84}")] = None,
    bbox_crs: Annotated[
        str | None, Query(alias="bbox-crs", description=f"CRS of bbox: only {CRS84}")
    ] = None,
    f: Format = None,
) -> Response:
    """A page of GeoJSON features with numberMatched, numberReturned and next links."""
    layer = _collection_layer(collectionId)
    check_crs("crs", crs)
    check_crs("bbox-crs", bbox_crs)
    # a limit above the maximum is served as the maximum (17-069r4 /req/core/fc-limit-response-1):
    # the next link carries the limit the page really had
    size = min(limit or settings.ogc_default_limit, settings.ogc_max_limit)
    check_page(size, offset, settings.ogc_max_limit, settings, "ogc_max_limit")
    query = ogc_query(layer, request.query_params, size, offset)
    async with pool.acquire() as conn:
        matched = await features.count(conn, query)
        texts = await features.page_geojson(conn, query)
    base = _base(request)
    links = page_links(request.url, size, offset, len(texts), matched, GEOJSON)
    links.append({"rel": "collection", "type": JSON, "href": f"{base}/collections/{layer.name}"})
    head = {
        "numberMatched": matched,
        "numberReturned": len(texts),
        "timeStamp": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "links": links,
    }
    return Response(collection_bytes(head, texts), media_type=GEOJSON, headers=CONTENT_CRS)


@_get(
    "/collections/{collectionId}/items/{featureId}",
    operation_id="ogcFeature",
    summary="One feature, by its code",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}}},
)
async def feature(
    collectionId: Annotated[str, Path()],  # noqa: N803
    featureId: Annotated[str, Path(max_length=200)],  # noqa: N803
    request: Request,
    who: Reader,
    pool: ReadPoolDep,
    crs: Annotated[str | None, Query(description=f"output CRS: only {CRS84}")] = None,
    f: Format = None,
) -> Response:
    """The feature with its self and collection links."""
    layer = _collection_layer(collectionId)
    check_crs("crs", crs)
    query = features.FeatureQuery(layer, limit=1)
    query.conditions.append(query.col("code") == featureId)
    async with pool.acquire() as conn:
        texts = await features.page_geojson(conn, query)
    if not texts:
        raise NotFound(f"no feature {featureId!r} in collection {layer.name}")
    base = _base(request)
    links = [
        {"rel": "self", "type": GEOJSON, "href": str(request.url)},
        {"rel": "collection", "type": JSON, "href": f"{base}/collections/{layer.name}"},
    ]
    body = texts[0].encode()[:-1] + b',"links":' + orjson.dumps(links) + b"}"
    return Response(body, media_type=GEOJSON, headers=CONTENT_CRS)
