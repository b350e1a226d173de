"""api.analysis.overlay: features of a layer inside a polygon or the features of another layer."""

from __future__ import annotations

import asyncpg

from api.analysis import parts
from api.analysis.filters import Params, class_sql, where_sql
from api.analysis.geometry import parse_geometry
from api.analysis.models import OverlayIn
from api.analysis.run import Statement, execute, layer_or_400
from api.settings import Settings
from api.sqlfiles import render

PREDICATES = {"intersects": 'ST_Intersects(t."geom", {g})', "within": 'ST_CoveredBy(t."geom", {g})'}


async def plan(body: OverlayIn, settings: Settings) -> Statement:
    """Check the request and make its statement."""
    layer = layer_or_400(body.layer)
    cap = settings.analysis_max_features if body.return_features else None
    params = Params(cap)
    if body.geometry is not None:
        geom = parse_geometry(body.geometry, settings.analysis_max_vertices)
        params.add(geom.wkb)
        filters = class_sql(layer, "t", body.categories, body.levels, params, strict=True)
        filters += where_sql(layer, "t", body.where, params)
        pairs = render(
            "analysis/sql/overlay_pairs_geometry.sql",
            table=parts.table(layer),
            predicate=PREDICATES[body.predicate].format(g="q.g"),
            filters=filters,
        )
    else:
        assert body.with_ is not None
        other = layer_or_400(body.with_.layer, "with.layer")
        other_filters = where_sql(other, "b", body.with_.where, params, "with.where")
        if body.with_.codes is not None:
            other_filters += f' AND b."code" = ANY({params.add(body.with_.codes)}::text[])'
        filters = class_sql(layer, "t", body.categories, body.levels, params, strict=True)
        filters += where_sql(layer, "t", body.where, params)
        pairs = render(
            "analysis/sql/overlay_pairs_layer.sql",
            table=parts.table(layer),
            other=parts.table(other),
            predicate=PREDICATES[body.predicate].format(g='b."geom"'),
            other_filters=other_filters,
            filters=filters,
        )
    sql = render(
        "analysis/sql/overlay.sql",
        pairs=pairs,
        table=parts.table(layer),
        level=parts.level_expr(layer),
        category=parts.category_expr(layer),
        props=parts.props(layer.name),
    )
    return Statement(sql, params.values, cap)


async def run(conn: asyncpg.Connection, body: OverlayIn, settings: Settings) -> str:
    """The overlay as a GeoJSON FeatureCollection (text) with counts by level, category, overlay."""
    return await execute(conn, await plan(body, settings))
