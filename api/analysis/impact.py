"""api.analysis.impact: hazard x exposure: who and what a hazard zone reaches, and who can help."""

from __future__ import annotations

import functools

import asyncpg

from api.analysis import parts
from api.analysis.models import ImpactIn
from api.analysis.run import Statement, check_cap, execute, resolve
from api.errors import BadRequest
from api.settings import Settings
from api.sqlfiles import render


@functools.cache
def statement() -> str:
    """The impact SQL (one statement, fixed text)."""
    return render(
        "analysis/sql/impact.sql",
        unit_props=parts.props("risk_units"),
        site_props=parts.props("vulnerable_sites"),
        shelter_props=parts.props("shelters"),
        team_props=parts.props("rescue_teams"),
        depot_props=parts.props("reserve_depots"),
    )


async def plan(conn: asyncpg.Connection, body: ImpactIn, settings: Settings) -> Statement:
    """Check the request and make its statement."""
    check_cap(body.radius_m, settings.analysis_max_radius_m, "radius_m", "analysis_max_radius_m")
    counts = []
    for name, value, default in (
        ("shelters_max", body.shelters_max, 20),
        ("teams_k", body.teams_k, 5),
        ("depots_k", body.depots_k, 5),
    ):
        if value is None:
            value = min(default, settings.analysis_max_k)
        check_cap(value, settings.analysis_max_k, name, "analysis_max_k")
        counts.append(value)
    geom = await resolve(conn, body, settings)
    if body.radius_m <= 0 and not geom.is_areal:
        raise BadRequest("radius_m must be above 0 unless the hazard is a polygon")
    cap = settings.analysis_max_features
    args = [geom.wkb, body.radius_m, cap, *counts]
    return Statement(statement(), args, cap)


async def run(conn: asyncpg.Connection, body: ImpactIn, settings: Settings) -> str:
    """The impact analysis as a GeoJSON FeatureCollection (text) with a `summary` member."""
    return await execute(conn, await plan(conn, body, settings))
