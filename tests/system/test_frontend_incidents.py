"""The incident mode in a real browser: report a gas leak, see the plan, dispatch the first
team and some water, see the stock fall (frontend/tests/incidents.mjs, playwright-core driving
Debian's chromium, against a live server on a copy of the demo city; fails, never skips)."""

from __future__ import annotations

import asyncpg

from api.auth.users import ensure_demo_users
from api.settings import Settings
from tests.support import browser

A = (108.9423, 34.2610)  # the Bell Tower


async def test_report_plan_dispatch_in_the_browser(demo_db: Settings) -> None:
    """The browser's incident, team and water are in the database as it showed them."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await ensure_demo_users(conn)
    finally:
        await conn.close()
    result = await browser.run_against(demo_db, "incidents.mjs", {"POINT": A}, limit_s=900)
    assert result["checks"] == [
        "login", "plan", "team dispatched", "water dispatched, stock fell", "error-free",
    ]  # fmt: skip
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        kind = await conn.fetchval("SELECT kind FROM incidents WHERE id = $1", result["incident"])
        teams = await conn.fetch(
            "SELECT t.code, d.status FROM dispatches d JOIN rescue_teams t ON t.id = d.team_id "
            "WHERE d.incident_id = $1",
            result["incident"],
        )
        left = await conn.fetchval(
            "SELECT s.quantity FROM depot_stock s JOIN reserve_depots r ON r.id = s.depot_id "
            "WHERE r.code = $1 AND s.item_type = '矿泉水'",
            result["depot"],
        )
    finally:
        await conn.close()
    assert kind == "gas_leak"
    assert [(t["code"], t["status"]) for t in teams] == [(result["team"], "dispatched")]
    assert left == result["after"] == result["before"] - result["qty"]
