"""api.queries.ogc_schema: each collection's schema (OGC Features Part 5) and queryables (Part 3).

Both are JSON Schema 2020-12 documents generated from the layer registry: every
property typed (type, format, enum), the feature id (`code`) and the layer's
time field marked with their `x-ogc-role`, and the geometry as the
`primary-geometry` with its type: `format` is one of Part 5's geometry formats
(`geometry-point`, `geometry-multilinestring`, `geometry-multipolygon`, or
`geometry-any` for a layer that holds points and areas), and `oneOf` lists the
GeoJSON geometry objects the collection's features really carry.
"""

from __future__ import annotations

from typing import Any

from api.layers import Field, Layer

#: link relations of the schema (Part 5) and the queryables (Part 3)
SCHEMA_REL = "http://www.opengis.net/def/rel/ogc/1.0/schema"
QUERYABLES_REL = "http://www.opengis.net/def/rel/ogc/1.0/queryables"
JSON_SCHEMA_2020 = "https://json-schema.org/draft/2020-12/schema"

#: JSON Schema of each field type
FIELD_SCHEMA: dict[str, dict[str, Any]] = {
    "text": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "bool": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "timestamp": {"type": "string", "format": "date-time"},
}

#: GeoJSON geometry type -> (Part 5 format, how deep positions are nested in `coordinates`)
_GEOMETRY: dict[str, tuple[str, int]] = {
    "Point": ("geometry-point", 0),
    "MultiLineString": ("geometry-multilinestring", 2),
    "MultiPolygon": ("geometry-multipolygon", 3),
}

#: the GeoJSON geometry types each kind of layer serves (the registry stores multi-lines
#: and multi-polygons, api.layers.GEOMETRY_TYPES)
KIND_GEOJSON: dict[str, tuple[str, ...]] = {
    "point": ("Point",),
    "line": ("MultiLineString",),
    "area": ("MultiPolygon",),
    "point_or_area": ("Point", "MultiPolygon"),
}


def geometry_types(layer: Layer) -> tuple[str, ...]:
    """The GeoJSON geometry types the layer's features carry."""
    return KIND_GEOJSON[layer.geometry]


def geometry_format(layer: Layer) -> str:
    """Part 5's `format` of the layer's geometry (`geometry-any` when it mixes types)."""
    types = geometry_types(layer)
    return _GEOMETRY[types[0]][0] if len(types) == 1 else "geometry-any"


def _geojson_geometry(kind: str) -> dict[str, Any]:
    """A JSON Schema of one GeoJSON geometry type (RFC 7946 §3.1)."""
    position: dict[str, Any] = {
        "type": "array",
        "minItems": 2,
        "maxItems": 3,
        "items": {"type": "number"},
    }
    coords = position
    depth = _GEOMETRY[kind][1]
    for level in range(depth):
        # polygons: rings of at least 4 positions; lines: at least 2
        minimum = 4 if kind == "MultiPolygon" and level == 0 else 2 if level == 0 else 1
        coords = {"type": "array", "minItems": minimum, "items": coords}
    return {
        "title": kind,
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {
            "type": {"type": "string", "enum": [kind]},
            "coordinates": coords,
        },
    }


def geometry_schema(layer: Layer) -> dict[str, Any]:
    """The primary geometry: its role, its Part 5 format and the GeoJSON objects it may be."""
    types = geometry_types(layer)
    options: list[dict[str, Any]] = [{"$ref": f"#/$defs/{t}"} for t in types]
    if layer.geometry_nullable:
        options.append({"type": "null"})
    what = " or ".join(types) + (" (or none)" if layer.geometry_nullable else "")
    return {
        "title": "geometry",
        "description": f"{what}, WGS84 lon/lat (CRS84)",
        "x-ogc-role": "primary-geometry",
        "format": geometry_format(layer),
        "oneOf": options,
    }


def geometry_defs(layer: Layer) -> dict[str, Any]:
    """`$defs` of the GeoJSON geometry types the layer's geometry schema refers to."""
    return {t: _geojson_geometry(t) for t in geometry_types(layer)}


def field_schema(layer: Layer, f: Field, nullable: bool = False) -> dict[str, Any]:
    """One property: type, format, enum, description, and its `x-ogc-role` if it has one.

    `nullable`: a field that is not required may be null in a feature (`type: [t, "null"]`).
    """
    item = dict(FIELD_SCHEMA[f.type])
    if nullable and not f.required:
        item["type"] = [item["type"], "null"]
    item["title"] = f.name
    if f.description:
        item["description"] = f.description
    if f.choices:
        item["enum"] = [*f.choices, None] if isinstance(item["type"], list) else list(f.choices)
    if f.name == "code":
        item["x-ogc-role"] = "id"
    elif f.name == layer.time_field:
        item["x-ogc-role"] = "primary-instant"
    return item


def _document(layer: Layer, schema_id: str, what: str, nullable: bool) -> dict[str, Any]:
    props = {f.name: field_schema(layer, f, nullable) for f in layer.all_fields}
    props["geometry"] = geometry_schema(layer)
    return {
        "$schema": JSON_SCHEMA_2020,
        "$id": schema_id,
        "title": f"{layer.title} {layer.title_zh}",
        "description": what,
        "type": "object",
        "properties": props,
        "$defs": geometry_defs(layer),
    }


def returnables(layer: Layer, schema_id: str) -> dict[str, Any]:
    """Part 5 schema: every property the collection's features carry, typed, with roles."""
    doc = _document(
        layer, schema_id, f"the properties and the geometry of {layer.name} features", True
    )
    doc["required"] = [f.name for f in layer.all_fields if f.required]
    if not layer.geometry_nullable:
        doc["required"].append("geometry")
    doc["additionalProperties"] = False
    return doc


def queryables(layer: Layer, schema_id: str) -> dict[str, Any]:
    """Part 3 queryables: the properties `property=value` filters on, and the geometry (bbox)."""
    doc = _document(
        layer,
        schema_id,
        f"what /items of {layer.name} filters on: property=value for each property, "
        "bbox on the geometry",
        False,
    )
    doc["additionalProperties"] = False
    return doc
