"""The incident mode in a real browser: report a gas leak, see the plan, dispatch the first
team and some water, see the stock fall (frontend/tests/incidents.mjs, playwright-core driving
Debian's chromium, against a live server on a copy of the demo city; fails, never skips)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess

import asyncpg
import httpx

from api.auth.users import ensure_demo_users
from api.settings import PROJECT_ROOT, Settings
from tests.support.liveserver import live_server
from tests.system.test_frontend import CHROMIUM, _build_frontend, _ensure_browser

A = (108.9423, 34.2610)  # the Bell Tower


def _run(settings: Settings) -> subprocess.CompletedProcess[str]:
    with live_server(settings) as base:
        assert httpx.get(f"{base}/").status_code == 200
        env = {**os.environ, "ONEMAP_BASE_URL": base, "ONEMAP_POINT": json.dumps(A),
               "CHROMIUM": CHROMIUM}  # fmt: skip
        return subprocess.run(
            ["node", "tests/incidents.mjs"],
            cwd=PROJECT_ROOT / "frontend", env=env, capture_output=True, text=True,
            timeout=900, check=False,
        )  # fmt: skip


async def test_report_plan_dispatch_in_the_browser(demo_db: Settings) -> None:
    """The browser's incident, team and water are in the database as it showed them."""
    _ensure_browser()
    _build_frontend()
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await ensure_demo_users(conn)
    finally:
        await conn.close()
    run = await asyncio.to_thread(_run, demo_db)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
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
