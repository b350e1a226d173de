"""api.analysis.parts: per-layer SQL fragments (properties, level, category) from the registry.

Only names from `api.layers` (quoted by `api.sqlfiles.ident`) and the fixed
fragments below reach the SQL text; request values are bound parameters.
"""

from __future__ import annotations

import functools

from api.layers import LAYERS, Layer
from api.sqlfiles import ident, literal

#: computed properties some layers carry besides their columns (fixed SQL, alias `x`)
EXTRA_PROPS: dict[str, str] = {
    "shelters": '\'free_capacity\', greatest(x."capacity" - x."occupied", 0)',
    "reserve_depots": (
        "'stock', (SELECT coalesce(json_object_agg(s.item_type, s.quantity ORDER BY s.item_type),"
        " '{}'::json) FROM depot_stock s WHERE s.depot_id = x.id)"
    ),
}

#: layers the analyses accept as inputs/targets (every layer with a geometry column)
ANALYSIS_LAYERS: tuple[str, ...] = tuple(LAYERS)


#: record-keeping fields analyses leave out (formatting timestamps is a quarter of a
#: 1 km buffer's time); feature pages, OGC items and /risk-units/{code} keep them
BOOKKEEPING = frozenset({"source", "created_at", "updated_at"})


@functools.cache
def props(layer_name: str, alias: str = "x", *, bookkeeping: bool = False) -> str:
    """`'code', x."code", ...`: json_build_object arguments for a layer's fields and extras."""
    layer = LAYERS[layer_name]
    parts = [
        f"{literal(f.name)}, {alias}.{ident(f.name)}"
        for f in layer.all_fields
        if bookkeeping or f.name not in BOOKKEEPING
    ]
    extra = EXTRA_PROPS.get(layer.name)
    if extra:
        parts.append(extra.replace("x.", f"{alias}."))
    return ", ".join(parts)


def level_expr(layer: Layer, alias: str = "x") -> str:
    """The layer's level as text (NULL when it has none)."""
    return f"{alias}.{ident(layer.level_field)}::text" if layer.level_field else "NULL::text"


def category_expr(layer: Layer, alias: str = "x") -> str:
    """The layer's category as text (NULL when it has none)."""
    return f"{alias}.{ident(layer.category_field)}::text" if layer.category_field else "NULL::text"


def table(layer: Layer) -> str:
    """The layer's table name, quoted."""
    return ident(layer.name)
