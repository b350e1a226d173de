"""api.queries.catalogue: the layer catalogue (fields, counts, extents), cached per layer version.

Counts and extents are exact; they are recomputed only for layers whose
`layer_versions` row changed since they were last computed (one cheap query).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from api import codes
from api.layers import LAYERS, Layer
from api.sqlfiles import ident, render


@dataclass(frozen=True, slots=True)
class LayerStats:
    """Size of one layer at one version."""

    count: int
    extent: tuple[float, float, float, float] | None
    time_min: datetime | None
    time_max: datetime | None


class Catalogue:
    """Per-process cache of layer stats keyed by layer version."""

    def __init__(self) -> None:
        self._stats: dict[str, tuple[int | None, LayerStats]] = {}

    async def stats(self, conn: asyncpg.Connection) -> dict[str, LayerStats]:
        """Stats of every layer, recomputing the ones whose version moved."""
        versions = {
            r["layer"]: r["version"]
            for r in await conn.fetch("SELECT layer, version FROM layer_versions")
        }
        out = {}
        for name, layer in LAYERS.items():
            version = versions.get(name)
            hit = self._stats.get(name)
            if hit is None or hit[0] != version or version is None:
                hit = (version, await _compute(conn, layer))
                self._stats[name] = hit
            out[name] = hit[1]
        return out


async def _compute(conn: asyncpg.Connection, layer: Layer) -> LayerStats:
    row = await conn.fetchrow(
        render("queries/sql/layer_stats.sql", table=ident(layer.name), time=ident(layer.time_field))
    )
    assert row is not None
    extent = None
    if row["minx"] is not None:
        extent = (row["minx"], row["miny"], row["maxx"], row["maxy"])
    return LayerStats(row["n"], extent, row["tmin"], row["tmax"])


def field_json(layer: Layer) -> list[dict[str, Any]]:
    """The layer's fields with their types (and allowed values)."""
    out = []
    for f in layer.all_fields:
        item: dict[str, Any] = {"name": f.name, "type": f.type, "description": f.description}
        if f.choices:
            item["choices"] = list(f.choices)
        if f.required:
            item["required"] = True
        out.append(item)
    return out


def layer_json(layer: Layer, stats: LayerStats) -> dict[str, Any]:
    """One catalogue entry."""
    return {
        "name": layer.name,
        "title": layer.title,
        "title_zh": layer.title_zh,
        "description": layer.description,
        "geometry": layer.geometry,
        "geometry_types": list(layer.geometry_types),
        "count": stats.count,
        "extent": list(stats.extent) if stats.extent else None,
        "category_field": layer.category_field,
        "level_field": layer.level_field,
        "time_field": layer.time_field,
        "fields": field_json(layer),
    }


LEVEL_LEGEND = [
    {"level": lv, "colour": codes.LEVEL_COLOURS[lv], "name_zh": codes.LEVEL_NAMES_ZH[lv]}
    for lv in reversed(codes.LEVELS)
]
