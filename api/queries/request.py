"""api.queries.request: a feature query from a query string, for /layers/{layer}/features and OGC.

`/layers/{layer}/features` syntax (values are typed by the field; a bad one is a 400):

| parameter | meaning |
|---|---|
| `category=a,b` | the layer's category field is one of a, b |
| `level=a,b` | the layer's level field is one of a, b |
| `district=c1,c2` | district code is one of c1, c2 |
| `bbox=minLon,minLat,maxLon,maxLat` | intersects the WGS84 box (minLon > maxLon: crosses 180°) |
| `q=text` | name contains text (any case) or code starts with it |
| `updated_since=2024-05-01T00:00:00Z` | changed at or after |
| `<field>=v` | field equals v (commas are part of v) |
| `<field>.in=a,b` | field is one of a, b |
| `<field>.gte=v`, `.gt`, `.lte`, `.lt` | ranges on numbers, dates, timestamps |
| `sort=f1,-f2` | order by f1 ascending, then f2 descending (then id); nulls last |
| `limit`, `offset` | the page; `links` carry next/prev |
| `f=geojson` or `f=csv` | the format |
"""

from __future__ import annotations

from starlette.datastructures import QueryParams

from api.errors import BadRequest
from api.layers import Layer
from api.queries.features import FeatureQuery
from api.query_params import parse_bbox, parse_interval, parse_timestamp

API_RESERVED = frozenset(
    {"category", "level", "district", "bbox", "q", "updated_since", "sort", "limit", "offset", "f"}
)
OGC_RESERVED = frozenset({"bbox", "bbox-crs", "crs", "datetime", "limit", "offset", "f"})
OPERATORS = ("in", "gte", "gt", "lte", "lt")


def _once(qp: QueryParams) -> None:
    for key in qp:
        values = qp.getlist(key)
        if len(values) > 1:
            raise BadRequest(f"query parameter {key!r} is given more than once")
        if "\x00" in key or "\x00" in values[0]:
            raise BadRequest(f"query parameter {key!r} contains a NUL character")


def _split(raw: str) -> list[str]:
    return [v.strip() for v in raw.split(",") if v.strip() != ""]


def _class_field(layer: Layer, which: str) -> str:
    """The field behind the generic `category` / `level` filter."""
    name = layer.category_field if which == "category" else layer.level_field
    if name is None and which in layer.field_map:
        name = which
    if name is None:
        raise BadRequest(f"{which}: layer {layer.name} has no {which}")
    return name


def api_query(layer: Layer, qp: QueryParams, limit: int, offset: int) -> FeatureQuery:
    """The FeatureQuery a /layers/{layer}/features query string asks for."""
    _once(qp)
    query = FeatureQuery(layer, limit=limit, offset=offset)
    for key, raw in qp.items():
        if key in ("limit", "offset", "f"):
            continue
        if key in ("category", "level"):
            query.one_of(_class_field(layer, key), _split(raw), key)
        elif key == "district":
            if "district" not in layer.field_map:
                raise BadRequest(f"district: layer {layer.name} has no district")
            query.one_of("district", _split(raw), key)
        elif key == "bbox":
            query.bbox(parse_bbox(raw))
        elif key == "q":
            if not raw.strip():
                raise BadRequest("q: empty search text")
            query.text_search(raw.strip())
        elif key == "updated_since":
            query.time_range("updated_at", parse_timestamp(key, raw), None)
        elif key == "sort":
            query.sort(raw)
        else:
            name, _, op = key.partition(".")
            if name not in layer.field_map:
                raise BadRequest(
                    f"unknown query parameter {key!r}: not a filter of this endpoint "
                    f"({', '.join(sorted(API_RESERVED))}) nor a field of layer {layer.name} "
                    f"({', '.join(layer.field_map)})"
                )
            if op == "":
                query.equals(name, raw, key)
            elif op == "in":
                query.one_of(name, _split(raw), key)
            elif op in OPERATORS:
                query.compare(name, op, raw, key)
            else:
                raise BadRequest(
                    f"{key}: unknown operator {op!r}; use {name}=v, "
                    + ", ".join(f"{name}.{o}=" for o in OPERATORS)
                )
    return query


def ogc_query(layer: Layer, qp: QueryParams, limit: int, offset: int) -> FeatureQuery:
    """The FeatureQuery an OGC items query string asks for (property=value filters).

    A layer holding more than one geometry type (or none) serves them in turn, so
    the first page shows each: clients that take a layer's type from its first
    page (GDAL's OAPIF driver) then make a layer that accepts them all.
    """
    _once(qp)
    query = FeatureQuery(layer, limit=limit, offset=offset)
    query.interleave_kinds = len(layer.geometry_types) > 1 or layer.geometry_nullable
    for key, raw in qp.items():
        if key in ("limit", "offset", "f", "crs", "bbox-crs"):
            continue
        if key == "bbox":
            query.bbox(parse_bbox(raw))
        elif key == "datetime":
            start, end = parse_interval(raw)
            query.time_range(layer.time_field, start, end)
        elif key in layer.field_map:
            query.equals(key, raw, key)
        else:
            raise BadRequest(
                f"unknown query parameter {key!r}; this collection accepts "
                f"{', '.join(sorted(OGC_RESERVED))} and its properties "
                f"({', '.join(layer.field_map)})"
            )
    return query
