"""api.tiles.request: a tile request parsed and checked without touching the database."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from api.errors import BadRequest, NotFound
from api.tiles.spec import COMPOSITE, SPECS, composite_layers
from api.tiles.sql import filter_column, layer_filters

MAX_LAYERS = 20
MAX_VALUES = 32
_DISTRICT = re.compile(r"^[0-9A-Za-z_.-]{1,32}$")

#: a normalised filter: ((kind, (value, ...)), ...) sorted by kind, values sorted
FilterKey = tuple[tuple[str, tuple[str, ...]], ...]


def parse_zxy(z: str, x: str, y: str, max_zoom: int) -> tuple[int, int, int]:
    """z/x/y as integers inside the tile matrix (400 otherwise)."""
    try:
        zi, xi, yi = int(z), int(x), int(y)
    except ValueError:
        raise BadRequest(f"z, x and y must be integers (got {z}/{x}/{y})") from None
    if not 0 <= zi <= max_zoom:
        raise BadRequest(f"zoom {zi} is outside 0..{max_zoom}")
    n = 1 << zi
    if not (0 <= xi < n and 0 <= yi < n):
        raise BadRequest(f"tile {zi}/{xi}/{yi} is outside the tile matrix (0..{n - 1} at z{zi})")
    return zi, xi, yi


def resolve_layers(names: str, z: int | None) -> tuple[str, ...]:
    """The requested layers in order, duplicates collapsed; `onemap` expands to zoom z's layers."""
    out: list[str] = []
    parts = [p for p in names.split(",") if p]
    if not parts:
        raise BadRequest("name at least one layer")
    for name in parts:
        if name == COMPOSITE:
            expanded = composite_layers(z) if z is not None else tuple(
                n for n, s in SPECS.items() if s.composite_minzoom is not None
            )  # fmt: skip
        elif name in SPECS:
            expanded = (name,)
        else:
            raise NotFound(f"no layer {name!r}; layers: {COMPOSITE}, {', '.join(SPECS)}")
        out.extend(n for n in expanded if n not in out)
    if len(out) > MAX_LAYERS:
        raise BadRequest(f"at most {MAX_LAYERS} layers in one tile")
    return tuple(out)


def _values(raw: Sequence[str], kind: str) -> tuple[str, ...]:
    values = sorted({v.strip() for item in raw for v in item.split(",") if v.strip()})
    if not values:
        raise BadRequest(f"{kind}: give at least one value")
    if len(values) > MAX_VALUES:
        raise BadRequest(f"{kind}: at most {MAX_VALUES} values")
    return tuple(values)


#: the query parameters tile and TileJSON requests accept
FILTER_NAMES = ("category", "district", "level")


def parse_filters(query: Mapping[str, Any]) -> FilterKey:
    """level / category / district values (repeated or comma-separated), normalised.

    Any other query parameter is a 400, as everywhere in the API.
    """
    unknown = sorted(set(query.keys()) - set(FILTER_NAMES))
    if unknown:
        raise BadRequest(
            f"unknown query parameter(s): {', '.join(unknown)}; this endpoint accepts: "
            f"{', '.join(FILTER_NAMES)}",
            unknown=unknown,
        )
    out = []
    getlist = getattr(query, "getlist", None)
    for kind in FILTER_NAMES:
        raw = getlist(kind) if getlist is not None else query.get(kind)
        if isinstance(raw, str):
            raw = [raw]
        if raw:
            values = _values(raw, kind)
            if kind == "district":
                bad = [v for v in values if not _DISTRICT.match(v)]
                if bad:
                    raise BadRequest(f"district: not a district code: {bad[0]!r}")
            out.append((kind, values))
    return tuple(out)


def _accepts(layer: str, kind: str, values: tuple[str, ...], alone: bool) -> list[object] | None:
    """The bound values when the filter applies to this layer, else None.

    `alone`: the layer is the only one in the tile. A level or category filter
    reaches a free-text field (no registry choices, e.g. monitoring points'
    `kind`) only then: in a composite, `category=gas` is about the layers whose
    choices include gas, and must not empty the layers that merely have a field.
    """
    spec = SPECS[layer]
    column = filter_column(spec, kind)
    if column is None:
        return None
    if kind == "district":
        return list(values)
    field = spec.layer.field_map.get(column)
    if field is None:
        return list(values)
    if field.type == "int":
        try:
            return [int(v) for v in values]
        except ValueError:
            return None
    if field.choices:
        return list(values) if set(values) <= set(field.choices) else None
    return list(values) if alone else None


def bind_filters(layers: tuple[str, ...], filters: FilterKey) -> tuple[list[object] | None, ...]:
    """One value per filter slot of the layers' statement; 400 when a filter fits no layer.

    A filter applies to each layer that has the field and whose registry
    choices accept every value (a free-text field only when its layer is the
    tile's only layer; district to every layer); other layers are drawn unfiltered.
    """
    given = dict(filters)
    applied = {kind: False for kind in given}
    params: list[list[object] | None] = []
    for layer in layers:
        for kind in layer_filters(SPECS[layer]):
            value = _accepts(layer, kind, given[kind], len(layers) == 1) if kind in given else None
            if value is not None:
                applied[kind] = True
            params.append(value)
    for kind, ok in applied.items():
        if not ok:
            raise BadRequest(_refusal(kind, given[kind], layers))
    return tuple(params)


def _refusal(kind: str, values: tuple[str, ...], layers: tuple[str, ...]) -> str:
    hints = []
    for layer in layers:
        spec = SPECS[layer]
        column = filter_column(spec, kind)
        if column is None:
            continue
        field = spec.layer.field_map.get(column)
        if field is not None and field.choices:
            hints.append(f"{layer}.{column}: {', '.join(field.choices)}")
        elif field is not None and field.type == "int":
            hints.append(f"{layer}.{column}: integers")
    where = "; ".join(hints) if hints else f"none of {', '.join(layers)} has a {kind} filter"
    return f"{kind}={','.join(values)} matches no layer of this tile ({where})"
