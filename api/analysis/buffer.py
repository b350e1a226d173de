"""api.analysis.buffer: what lies within D metres of a point, a geometry or a feature."""

from __future__ import annotations

import functools

import asyncpg

from api.analysis import parts
from api.analysis.filters import Params, where_sql
from api.analysis.models import BufferIn
from api.analysis.run import Statement, check_cap, execute, layer_or_400, resolve
from api.errors import BadRequest
from api.layers import LAYERS
from api.settings import Settings
from api.sqlfiles import literal, render

#: layers searched when the request names none
DEFAULT_LAYERS: tuple[str, ...] = tuple(
    n for n in LAYERS if n not in ("population_cells", "districts", "special_periods")
)


def statement(layers: list[str], filters: dict[str, str]) -> str:
    """The buffer SQL for these layers, each with its filter fragment."""
    return _statement(tuple(layers), tuple((n, filters.get(n, "")) for n in layers))


@functools.lru_cache(maxsize=256)
def _statement(layers: tuple[str, ...], filters: tuple[tuple[str, str], ...]) -> str:
    """The text (memoised: the same layers and filter shapes make the same SQL)."""
    fragments = dict(filters)
    hits = "\n    UNION ALL\n".join(
        render(
            "analysis/sql/buffer_layer.sql",
            layer=literal(name),
            level=parts.level_expr(LAYERS[name]),
            props=parts.props(name),
            table=parts.table(LAYERS[name]),
            filters=fragments[name],
        )
        for name in layers
    )
    return render("analysis/sql/buffer.sql", hits=hits)


async def plan(conn: asyncpg.Connection, body: BufferIn, settings: Settings) -> Statement:
    """Check the request and make its statement."""
    check_cap(
        body.distance_m, settings.analysis_max_radius_m, "distance_m", "analysis_max_radius_m"
    )
    names = list(dict.fromkeys(body.layers)) if body.layers else list(DEFAULT_LAYERS)
    if not names:
        names = list(DEFAULT_LAYERS)
    layers = [layer_or_400(n, "layers") for n in names]
    geom = await resolve(conn, body, settings)
    cap = settings.analysis_max_features
    params = Params(geom.wkb, body.distance_m, cap, names)
    where = body.where or {}
    unknown = sorted(set(where) - set(names))
    if unknown:
        raise BadRequest(f"where: {', '.join(unknown)} not among the layers searched")
    filters = {
        layer.name: where_sql(layer, "t", where.get(layer.name), params, f"where.{layer.name}")
        for layer in layers
    }
    return Statement(statement(names, filters), params.values, cap)


async def run(conn: asyncpg.Connection, body: BufferIn, settings: Settings) -> str:
    """The buffer's GeoJSON FeatureCollection, as text."""
    return await execute(conn, await plan(conn, body, settings))
