"""api.tiles.sql: the fixed text of each tile statement, built once from the registry.

A statement serves an ordered tuple of layers and returns one row with one
bytea column per layer. Its text depends only on the layers and on settings,
never on a tile or a filter value: z, x, y are $1..$3 and each filter is a
bound array (NULL: no filter), so asyncpg prepares it once per connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from api.sqlfiles import ident, literal, render
from api.tiles.spec import SPECS, TileSpec

EXTENT = 4096
#: clustering grid: cells per tile side
CLUSTER_CELLS = 32
#: lines and areas are simplified below this zoom (tolerance: half a tile unit)
SIMPLIFY_BELOW = 14

#: the filters a tile request may carry, in parameter order within a layer
FILTERS = ("level", "category", "district")


@dataclass(frozen=True, slots=True)
class TileOptions:
    """Settings that shape the SQL text (fixed for the life of an app)."""

    buffer: int = 256
    limit: int = 10_000


def filter_column(spec: TileSpec, kind: str) -> str | None:
    """The column a filter applies to on this layer (None: the layer has no such filter)."""
    layer = spec.layer
    if kind == "level":
        return layer.level_field
    if kind == "category":
        return layer.category_field
    if kind == "district":
        return "code" if layer.name == "districts" else "district"
    raise ValueError(kind)


def filter_type(spec: TileSpec, kind: str) -> str:
    """The SQL array type the filter's values are bound as."""
    column = filter_column(spec, kind)
    field = spec.layer.field_map.get(column or "")
    return "int[]" if field is not None and field.type == "int" else "text[]"


def layer_filters(spec: TileSpec) -> tuple[str, ...]:
    """The filters this layer accepts, in parameter order."""
    return tuple(k for k in FILTERS if filter_column(spec, k) is not None)


def _filters_sql(spec: TileSpec, first_param: int) -> str:
    parts = []
    for i, kind in enumerate(layer_filters(spec)):
        n = first_param + i
        col = ident(filter_column(spec, kind) or "")
        typ = filter_type(spec, kind)
        parts.append(f"\n            AND (${n}::{typ} IS NULL OR f.{col} = ANY(${n}::{typ}))")
    return "".join(parts)


def _level_cluster(spec: TileSpec) -> tuple[str, str, str]:
    """(aggregate in the cell query, column in the output, column in the inner query)."""
    mode = spec.cluster_level
    if mode is None:
        return "", "", ""
    col = ident(spec.layer.level_field or "")
    if mode == "min_int":
        return f", min(g.lv) AS {col}", f", c.{col}", f", f.{col} AS lv"
    choices = spec.layer.field_map[spec.layer.level_field or ""].choices or ()
    ranks = " ".join(f"WHEN {literal(c)} THEN {i + 1}" for i, c in enumerate(choices))
    array = ", ".join(literal(c) for c in choices)
    return (
        f", (ARRAY[{array}])[max(g.lv)] AS {col}",
        f", c.{col}",
        f", CASE f.{col} {ranks} END AS lv",
    )


def layer_sql(spec: TileSpec, first_param: int, opts: TileOptions) -> str:
    """The scalar subquery that makes one layer's MVT bytes for the tile."""
    common: dict[str, str | int] = {
        "layer": spec.name,
        "table": ident(spec.name),
        "extent": EXTENT,
        "buffer": opts.buffer,
        "limit": opts.limit,
        "cluster_below": spec.cluster_below,
        "where": f"\n            AND {spec.where}" if spec.where else "",
        "filters": _filters_sql(spec, first_param),
        "cells": CLUSTER_CELLS,
    }
    if spec.layer.geometry in ("line", "area"):
        geom = (
            f"CASE WHEN $1 < {SIMPLIFY_BELOW} THEN ST_Simplify(f.geom, b.unit_deg / 2) "
            "ELSE f.geom END"
        )
    else:
        geom = "f.geom"
    props = "".join(f", f.{ident(p)}" for p in spec.properties)
    features = render("tiles/features.sql", geom=geom, props=props, **common)
    if not spec.points or spec.cluster_below <= 0:
        return features
    aggs, out, inner = _level_cluster(spec)
    point = "f.geom" if spec.layer.geometry == "point" else "ST_PointOnSurface(f.geom)"
    clusters = render(
        "tiles/clusters.sql",
        point=point,
        cluster_aggs=aggs,
        cluster_props=out,
        cluster_inner=inner,
        level_note=" and the worst level" if aggs else "",
        **common,
    )
    return f"{features}\n||\n{clusters}"


@dataclass(frozen=True, slots=True)
class Statement:
    """The SQL text for a tuple of layers and the filter slots it binds, in order."""

    layers: tuple[str, ...]
    text: str
    #: (layer, filter kind) for parameters $4 onwards
    slots: tuple[tuple[str, str], ...]


@lru_cache(maxsize=512)
def statement(layers: tuple[str, ...], opts: TileOptions) -> Statement:
    """The one statement serving these layers (memoised; its text never changes)."""
    slots: list[tuple[str, str]] = []
    columns = []
    for name in layers:
        spec = SPECS[name]
        sub = layer_sql(spec, 4 + len(slots), opts)
        slots.extend((name, k) for k in layer_filters(spec))
        columns.append(f"{sub} AS {ident(name)}")
    bounds = render("tiles/bounds.sql", margin=opts.buffer / EXTENT, extent=EXTENT,
                    cells=CLUSTER_CELLS)  # fmt: skip
    text = f"WITH {bounds}\nSELECT " + ",\n".join(columns)
    return Statement(layers, text, tuple(slots))
