"""The travel-time tools in a real browser: reach bands, a route, coverage as a layer.

Runs frontend/tests/reach.mjs (playwright-core driving Debian's chromium) against a live
server on a copy of the demo city; fails, never skips, when node or chromium cannot be had.
"""

from __future__ import annotations

import asyncpg

from api.auth.users import ensure_demo_users
from api.routing import engine
from api.settings import Settings
from tests.support import browser

A = (108.9423, 34.2610)  # the Bell Tower
B = (108.975, 34.23)


async def test_reach_route_and_coverage_in_the_browser(demo_db: Settings) -> None:
    """Click for isochrone bands (5 and 10 minutes), two clicks for a route whose time is the
    API's, the coverage layer with the city's count of residents beyond 15 minutes."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await ensure_demo_users(conn)
        want = await engine.route(conn, A, B, demo_db.routing_max_snap_m)
        cover = await engine.coverage(
            conn,
            [
                (r[0], r[1])
                for r in await conn.fetch(
                    "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) "
                    "FROM shelters"
                )
            ],
            [15],
            max_snap_m=demo_db.routing_max_snap_m,
            unreached=True,
        )
    finally:
        await conn.close()
    points = {"a": A, "b": B}
    result = await browser.run_against(demo_db, "reach.mjs", {"POINTS": points}, limit_s=900)
    assert result["checks"] == [
        "login", "roads layer", "reach tool", "route tool", "coverage layer", "error-free",
    ]  # fmt: skip
    # the browser clicked near A and B (a pixel off): the route takes about the API's time
    assert abs(result["route_minutes"] - want["duration_s"] / 60) < 1.0
    assert result["coverage_not_reached"] == cover["city"][0]["population_not_reached"]
    assert result["coverage_cells"] == len(cover["unreached"]["features"]) > 0
