"""api.queries.ogc: the OpenAPI 3.0 definition of the OGC API Features service under /ogc.

Generated from the layer registry: one items path per collection, with each of
the layer's fields as a query parameter (property = value).
"""

from __future__ import annotations

from typing import Any

from api.layers import LAYERS, Field, Layer
from api.queries.ogc_schema import FIELD_SCHEMA, geometry_defs, geometry_schema

OAS30 = "application/vnd.oai.openapi+json;version=3.0"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"


def feature_schema(layer: Layer, schema_id: str) -> dict[str, Any]:
    """A JSON Schema of the layer's GeoJSON features: each property typed, the geometry's type."""
    props: dict[str, Any] = {}
    for f in layer.all_fields:
        item = dict(FIELD_SCHEMA[f.type])
        item["description"] = f.description
        if f.choices:
            item["enum"] = list(f.choices)
        props[f.name] = item
    return {
        "$schema": "https://json-schema.org/draft/2019-09/schema",
        "$id": schema_id,
        "title": f"{layer.title} {layer.title_zh}",
        "type": "object",
        "required": ["type", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "string"},
            "geometry": geometry_schema(layer),
            "properties": {"type": "object", "properties": props},
        },
        "$defs": geometry_defs(layer),
    }


def _field_param(f: Field) -> dict[str, Any]:
    schema = dict(FIELD_SCHEMA[f.type])
    if f.choices:
        schema["enum"] = list(f.choices)
    return {
        "name": f.name,
        "in": "query",
        "required": False,
        "description": f"{f.description} (equals)",
        "schema": schema,
        "style": "form",
        "explode": False,
    }


def _json(description: str, schema_ref: str, media: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"$ref": schema_ref}}}}


def _errors() -> dict[str, Any]:
    problem = {"$ref": "#/components/schemas/problem"}
    out = {}
    for code, text in (
        ("400", "invalid or unknown parameter"),
        ("401", "no credential"),
        ("403", "the credential's role may not read"),
        ("404", "not found"),
        ("503", "timed out"),
    ):
        out[code] = {
            "description": text,
            "content": {"application/problem+json": {"schema": problem}},
        }
    return out


def openapi_document(server_url: str, max_limit: int, default_limit: int) -> dict[str, Any]:
    """The OpenAPI 3.0 document; `server_url` is the absolute URL of /ogc."""
    errors = _errors()
    paths: dict[str, Any] = {
        "/": {
            "get": {
                "operationId": "ogcLanding",
                "summary": "Landing page",
                "tags": ["Capabilities"],
                "parameters": [{"$ref": "#/components/parameters/f"}],
                "responses": {
                    "200": _json("links to the API", "#/components/schemas/landingPage"),
                    **errors,
                },
            }
        },
        "/conformance": {
            "get": {
                "operationId": "ogcConformance",
                "summary": "Conformance classes",
                "tags": ["Capabilities"],
                "parameters": [{"$ref": "#/components/parameters/f"}],
                "responses": {
                    "200": _json("conformance classes", "#/components/schemas/confClasses"),
                    **errors,
                },
            }
        },
        "/collections": {
            "get": {
                "operationId": "ogcCollections",
                "summary": "The feature collections (one per layer)",
                "tags": ["Capabilities"],
                "parameters": [{"$ref": "#/components/parameters/f"}],
                "responses": {
                    "200": _json("the collections", "#/components/schemas/collections"),
                    **errors,
                },
            }
        },
    }
    for name, layer in LAYERS.items():
        paths[f"/collections/{name}"] = {
            "get": {
                "operationId": f"describe_{name}",
                "summary": f"{layer.title} ({layer.title_zh})",
                "tags": [name],
                "parameters": [{"$ref": "#/components/parameters/f"}],
                "responses": {
                    "200": _json("the collection", "#/components/schemas/collection"),
                    **errors,
                },
            }
        }
        for doc, what in (
            ("schema", "its schema: typed properties and the geometry type (Part 5)"),
            ("queryables", "what its items filter on (Part 3)"),
            ("feature-schema", "JSON Schema of its GeoJSON features"),
        ):
            paths[f"/collections/{name}/{doc}"] = {
                "get": {
                    "operationId": f"{doc.replace('-', '_')}_{name}",
                    "summary": f"{layer.title}: {what}",
                    "tags": [name],
                    "parameters": [{"$ref": "#/components/parameters/f"}],
                    "responses": {
                        "200": {
                            "description": what,
                            "content": {"application/schema+json": {"schema": {"type": "object"}}},
                        },
                        **errors,
                    },
                }
            }
        paths[f"/collections/{name}/items"] = {
            "get": {
                "operationId": f"items_{name}",
                "summary": f"Features of {layer.title}",
                "description": f"Filter by bbox, datetime (on {layer.time_field}) and any "
                "property (equals). Page with limit/offset; follow the `next` link.",
                "tags": [name],
                "parameters": [
                    {"$ref": "#/components/parameters/bbox"},
                    {"$ref": "#/components/parameters/datetime"},
                    {"$ref": "#/components/parameters/limit"},
                    {"$ref": "#/components/parameters/offset"},
                    {"$ref": "#/components/parameters/f"},
                    {"$ref": "#/components/parameters/crs"},
                    {"$ref": "#/components/parameters/bbox-crs"},
                    *(_field_param(f) for f in layer.all_fields),
                ],
                "responses": {
                    "200": _json(
                        "a page of features",
                        "#/components/schemas/featureCollectionGeoJSON",
                        "application/geo+json",
                    ),
                    **errors,
                },
            }
        }
        paths[f"/collections/{name}/items/{{featureId}}"] = {
            "get": {
                "operationId": f"feature_{name}",
                "summary": f"One feature of {layer.title}, by code",
                "tags": [name],
                "parameters": [
                    {"$ref": "#/components/parameters/featureId"},
                    {"$ref": "#/components/parameters/f"},
                    {"$ref": "#/components/parameters/crs"},
                ],
                "responses": {
                    "200": _json(
                        "the feature", "#/components/schemas/featureGeoJSON", "application/geo+json"
                    ),
                    **errors,
                },
            }
        }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "onemap OGC API - Features",
            "version": "1.0.0",
            "description": "The city's safety-risk layers as OGC API Features (Part 1 Core, "
            "GeoJSON). Every request needs a credential: `X-API-Key: <key>` or "
            "`Authorization: Bearer <token or key>`.",
        },
        "servers": [{"url": server_url}],
        "security": [{"apiKey": []}, {"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
            "parameters": {
                "f": {
                    "name": "f",
                    "in": "query",
                    "required": False,
                    "description": "output format (JSON only)",
                    "schema": {"type": "string", "enum": ["json"]},
                },
                "bbox": {
                    "name": "bbox",
                    "in": "query",
                    "required": False,
                    "description": "minLon,minLat,maxLon,maxLat in CRS84 (6 numbers: heights "
                    "ignored); features intersecting the box",
                    "schema": {
                        "type": "array",
                        "minItems": 4,
                        "maxItems": 6,
                        "items": {"type": "number"},
                    },
                    "style": "form",
                    "explode": False,
                },
                "datetime": {
                    "name": "datetime",
                    "in": "query",
                    "required": False,
                    "description": "an instant or an interval start/end (.. for open) in "
                    "RFC 3339, on the collection's time field",
                    "schema": {"type": "string"},
                    "style": "form",
                    "explode": False,
                },
                "limit": {
                    "name": "limit",
                    "in": "query",
                    "required": False,
                    "description": f"features per page (default {default_limit}); a limit "
                    f"above the maximum {max_limit} is served as {max_limit} and the `next` "
                    "link says so",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": max_limit,
                        "default": default_limit,
                    },
                    "style": "form",
                    "explode": False,
                },
                "offset": {
                    "name": "offset",
                    "in": "query",
                    "required": False,
                    "description": "features to skip (the `next` link sets it)",
                    "schema": {"type": "integer", "minimum": 0, "default": 0},
                },
                "crs": {
                    "name": "crs",
                    "in": "query",
                    "required": False,
                    "description": "the CRS of the answer (Part 2): CRS84 is the one offered",
                    "schema": {"type": "string", "format": "uri", "enum": [CRS84]},
                    "style": "form",
                    "explode": False,
                },
                "bbox-crs": {
                    "name": "bbox-crs",
                    "in": "query",
                    "required": False,
                    "description": "the CRS of `bbox` (Part 2): CRS84 is the one offered",
                    "schema": {"type": "string", "format": "uri", "enum": [CRS84]},
                    "style": "form",
                    "explode": False,
                },
                "featureId": {
                    "name": "featureId",
                    "in": "path",
                    "required": True,
                    "description": "the feature's code",
                    "schema": {"type": "string"},
                },
            },
            "schemas": {
                "link": {
                    "type": "object",
                    "required": ["href"],
                    "properties": {
                        "href": {"type": "string"},
                        "rel": {"type": "string"},
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                    },
                },
                "landingPage": {
                    "type": "object",
                    "required": ["links"],
                    "properties": {
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
                    },
                },
                "confClasses": {
                    "type": "object",
                    "required": ["conformsTo"],
                    "properties": {"conformsTo": {"type": "array", "items": {"type": "string"}}},
                },
                "collection": {
                    "type": "object",
                    "required": ["id", "links"],
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "description": {"type": "string"},
                        "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
                        "extent": {"type": "object"},
                        "itemType": {"type": "string"},
                        "crs": {"type": "array", "items": {"type": "string"}},
                    },
                },
                "collections": {
                    "type": "object",
                    "required": ["links", "collections"],
                    "properties": {
                        "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
                        "collections": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/collection"},
                        },
                    },
                },
                "featureGeoJSON": {
                    "type": "object",
                    "required": ["type", "geometry", "properties"],
                    "properties": {
                        "type": {"type": "string", "enum": ["Feature"]},
                        "geometry": {"type": "object", "nullable": True},
                        "properties": {"type": "object", "nullable": True},
                        "id": {"type": "string"},
                        "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
                    },
                },
                "featureCollectionGeoJSON": {
                    "type": "object",
                    "required": ["type", "features"],
                    "properties": {
                        "type": {"type": "string", "enum": ["FeatureCollection"]},
                        "features": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/featureGeoJSON"},
                        },
                        "links": {"type": "array", "items": {"$ref": "#/components/schemas/link"}},
                        "timeStamp": {"type": "string", "format": "date-time"},
                        "numberMatched": {"type": "integer", "minimum": 0},
                        "numberReturned": {"type": "integer", "minimum": 0},
                    },
                },
                "problem": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "detail": {"type": "string"},
                    },
                },
            },
        },
    }
