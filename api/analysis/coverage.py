"""api.analysis.coverage: per district, residents within D metres of a shelter; places each."""

from __future__ import annotations

import asyncpg

from api.analysis.models import CoverageIn
from api.analysis.run import Statement, check_cap, execute
from api.settings import Settings
from api.sqlfiles import load


def plan(body: CoverageIn, settings: Settings) -> Statement:
    """Check the request and make its statement."""
    check_cap(
        body.distance_m, settings.analysis_max_radius_m, "distance_m", "analysis_max_radius_m"
    )
    return Statement(
        load("analysis/sql/coverage.sql"), [body.distance_m, body.districts, body.include_geometry]
    )


async def run(conn: asyncpg.Connection, body: CoverageIn, settings: Settings) -> str:
    """Coverage per district as a GeoJSON FeatureCollection (text) with a citywide summary."""
    return await execute(conn, plan(body, settings))
