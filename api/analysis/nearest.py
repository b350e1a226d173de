"""api.analysis.nearest: the k nearest shelters, depots, teams (any layer), in metres."""

from __future__ import annotations

import asyncpg

from api.analysis import parts
from api.analysis.filters import Params, class_sql, where_sql
from api.analysis.models import NearestIn
from api.analysis.run import Statement, check_cap, execute, layer_or_400, resolve
from api.errors import BadRequest
from api.layers import Layer
from api.settings import Settings
from api.sqlfiles import literal, render

# Fixed filter fragments of the named filters (alias t); {p} is a bound placeholder.
FREE_CAPACITY = ' AND t."capacity" - t."occupied" >= {p}'
HOLDS_ITEM = (
    " AND EXISTS (SELECT 1 FROM depot_stock s WHERE s.depot_id = t.id"
    " AND s.item_type = {p} AND s.quantity >= {q})"
)
SPECIALITY = ' AND t."speciality" = {p}'
WITHIN = (
    ' AND t."geom" && onemap_expand_m((SELECT g FROM q), {p})'
    ' AND ST_DWithin(t."geom"::geography, (SELECT gg FROM q), {p})'
)


def _only(layer: Layer, name: str, option: str) -> None:
    if layer.name != name:
        raise BadRequest(f"{option} applies to layer {name}, not {layer.name}")


def filters_sql(layer: Layer, body: NearestIn, params: Params) -> str:
    """The request's filters as fixed SQL with bound values."""
    sql = ""
    if body.min_free_capacity is not None:
        _only(layer, "shelters", "min_free_capacity")
        sql += FREE_CAPACITY.format(p=params.add(body.min_free_capacity))
    if body.item is not None or body.min_quantity is not None:
        _only(layer, "reserve_depots", "item")
        if body.item is None:
            raise BadRequest("min_quantity needs item")
        sql += HOLDS_ITEM.format(p=params.add(body.item), q=params.add(body.min_quantity or 1))
    if body.speciality is not None:
        _only(layer, "rescue_teams", "speciality")
        sql += SPECIALITY.format(p=params.add(body.speciality))
    sql += class_sql(layer, "t", body.categories, body.levels, params, strict=True)
    sql += where_sql(layer, "t", body.where, params)
    return sql


async def plan(conn: asyncpg.Connection, body: NearestIn, settings: Settings) -> Statement:
    """Check the request and make its statement."""
    check_cap(body.k, settings.analysis_max_k, "k", "analysis_max_k")
    if body.max_distance_m is not None:
        check_cap(
            body.max_distance_m, settings.analysis_max_radius_m, "max_distance_m",
            "analysis_max_radius_m",
        )  # fmt: skip
    layer = layer_or_400(body.layer)
    geom = await resolve(conn, body, settings)
    params = Params(geom.wkb, body.k)
    filters = filters_sql(layer, body, params)
    within = (
        WITHIN.format(p=params.add(body.max_distance_m)) if body.max_distance_m is not None else ""
    )
    sql = render(
        "analysis/sql/nearest.sql",
        table=parts.table(layer),
        layer=literal(layer.name),
        props=parts.props(layer.name),
        filters=filters,
        within=within,
    )
    return Statement(sql, params.values)


async def run(conn: asyncpg.Connection, body: NearestIn, settings: Settings) -> str:
    """The k nearest as a GeoJSON FeatureCollection (text), nearest first."""
    return await execute(conn, await plan(conn, body, settings))
