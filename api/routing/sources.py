"""api.routing.sources: the points a reach or a coverage starts from: given, or from a layer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import asyncpg

from api.analysis.filters import Params, where_sql
from api.errors import BadRequest
from api.layers import LAYERS
from api.sqlfiles import ident

#: layers whose features can be sources (points, or areas by a point on their surface)
SOURCE_LAYERS = tuple(
    name for name, layer in LAYERS.items() if layer.geometry in ("point", "point_or_area")
)

#: what GET /stats/coverage measures: layer and fixed filter
COVERAGE_SETS: dict[str, tuple[str, dict[str, Any]]] = {
    "shelters": ("shelters", {}),
    "rescue_teams": ("rescue_teams", {}),
    "fire_stations": ("rescue_teams", {"speciality": "消防救援"}),
    "reserve_depots": ("reserve_depots", {}),
}


async def layer_points(
    conn: asyncpg.Connection,
    layer: str,
    where: Mapping[str, Any] | None,
    cap: int | None,
) -> tuple[list[tuple[float, float]], list[str]]:
    """The features' points (a point on the surface of an area) and codes, by code.

    400 for a layer that is unknown or has no points, a filter on an unknown field, and
    (with `cap`) more features than the cap.
    """
    if layer not in SOURCE_LAYERS:
        raise BadRequest(
            f"sources.layer: {layer!r} is not a layer of points; one of {', '.join(SOURCE_LAYERS)}"
        )
    params = Params()
    cond = where_sql(LAYERS[layer], "l", where, params, label="sources.filter")
    limit = params.add((cap + 1) if cap is not None else None)
    sql = (
        "SELECT l.code, ST_X(p) AS lon, ST_Y(p) AS lat FROM "
        f"{ident(layer)} l CROSS JOIN LATERAL (SELECT ST_PointOnSurface(l.geom) AS p) g "
        f"WHERE l.geom IS NOT NULL{cond} ORDER BY l.code LIMIT {limit}"
    )
    rows = await conn.fetch(sql, *params.values)
    if cap is not None and len(rows) > cap:
        raise BadRequest(
            f"sources: more than {cap} features of {layer} pass the filter "
            f"(cap routing_max_sources={cap}); narrow the filter",
            cap="routing_max_sources",
            limit=cap,
        )
    return [(r["lon"], r["lat"]) for r in rows], [r["code"] for r in rows]
