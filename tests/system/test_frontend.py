"""The front end: served at /, its /ui/config, and a real browser on the graded demo city.

The browser part runs frontend/tests/browser.mjs (playwright-core driving Debian's
chromium, installed here with scripts/ensure-packages when missing) against a live
server; it fails, never skips, when node or chromium cannot be had.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from api.auth.users import ensure_demo_users
from api.cli.demo import grade_if_ungraded
from api.settings import PROJECT_ROOT, Settings
from tests.conftest import app_client, role_headers
from tests.support import browser
from tests.support.browser import build_frontend

#: the README's figures; refreshed by `ONEMAP_UPDATE_SCREENSHOTS=1 pytest
#: tests/system/test_frontend.py`
#: (otherwise the test's screenshots go to a temporary directory and the tree stays clean)
DOC_SCREENSHOTS = PROJECT_ROOT / "docs" / "screenshots"


async def test_home_without_a_build_says_how_to_build(empty_db: Settings, tmp_path: Path) -> None:
    """No frontend/dist: the app still starts and / explains `make frontend`."""
    settings = empty_db.model_copy(update={"frontend_dist": tmp_path / "dist"})
    async with app_client(settings) as client:
        r = await client.get("/")
        assert r.status_code == 200
        assert "make frontend" in r.text
        assert (await client.get("/healthz")).status_code == 200


async def test_home_serves_the_build_and_its_assets(empty_db: Settings) -> None:
    """/ is the built page; the script and stylesheet it names are served from /assets."""
    build_frontend()
    async with app_client(empty_db) as client:
        r = await client.get("/")
        assert r.status_code == 200
        assert r.headers["cache-control"] == "no-cache"
        assets = re.findall(r'(?:src|href)="(/assets/[^"]+)"', r.text)
        assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
        for asset in assets:
            got = await client.get(asset)
            assert got.status_code == 200 and len(got.content) > 1000, asset
        # the bundle carries MapLibre and loads nothing from a CDN
        js = (await client.get(next(a for a in assets if a.endswith(".js")))).text
        assert "maplibre" in js.lower()
        assert "unpkg.com" not in js and "cdn.jsdelivr" not in js
        assert (await client.get("/?x=1")).status_code == 400


async def test_ui_config(empty_db: Settings) -> None:
    """/ui/config needs a credential; the basemap URL gets its key; the raster flag is real."""
    headers = (await role_headers(empty_db))["viewer"]
    plain = empty_db.model_copy(update={"data_dir": Path("/nonexistent-onemap")})
    async with app_client(plain) as client:
        assert (await client.get("/ui/config")).status_code == 401
        body = (await client.get("/ui/config", headers=headers)).json()
    assert body["basemap"] is None and body["risk_surface"] is False
    assert body["user"]["role"] == "viewer"
    tianditu = empty_db.model_copy(
        update={
            "basemap_url": "https://t0.example.cn/vec_w/wmts?x={x}&y={y}&l={z}&tk={key}",
            "basemap_key": "k123",
            "basemap_attribution": "天地图",
        }
    )
    async with app_client(tianditu) as client:
        body = (await client.get("/ui/config", headers=headers)).json()
    assert body["basemap"] == {
        "tiles": ["https://t0.example.cn/vec_w/wmts?x={x}&y={y}&l={z}&tk=k123"],
        "attribution": "天地图",
    }


async def _target(settings: Settings) -> dict[str, Any]:
    """A low-level point unit with a sensor: a reading past threshold_l1 lifts it (F2).

    Also adds the demo users (as `onemap demo up` does): the browser logs in with them.
    """
    conn = await asyncpg.connect(settings.database_url)
    try:
        await ensure_demo_users(conn)
        row = await conn.fetchrow(
            "SELECT ru.code AS unit, mp.code AS point, mp.threshold_l1, ST_X(ru.geom) AS lon, "
            "ST_Y(ru.geom) AS lat FROM risk_units ru JOIN monitoring_points mp "
            "ON mp.risk_unit_id = ru.id WHERE ru.current_level = 'low' "
            "AND mp.direction = 'above' AND mp.threshold_l1 > 0 "
            "AND GeometryType(ru.geom) = 'POINT' AND NOT EXISTS (SELECT 1 FROM alarms a "
            "WHERE a.risk_unit_id = ru.id AND a.ended_at IS NULL) ORDER BY ru.code LIMIT 1"
        )
    finally:
        await conn.close()
    assert row is not None
    return {
        "unit": row["unit"],
        "point": row["point"],
        "value": float(row["threshold_l1"]) * 1.5,
        "lon": row["lon"],
        "lat": row["lat"],
    }


async def _level(settings: Settings, code: str) -> str:
    conn = await asyncpg.connect(settings.database_url)
    try:
        sql = "SELECT current_level FROM risk_units WHERE code = $1"
        return str(await conn.fetchval(sql, code))
    finally:
        await conn.close()


@pytest.mark.slow
@pytest.mark.browser
async def test_browser(demo_db: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Log in, tiles drawn, filters, popup explanation, buffer, a pushed level change, a
    monitoring point's readings chart."""
    shots = DOC_SCREENSHOTS if os.environ.get("ONEMAP_UPDATE_SCREENSHOTS") == "1" else tmp_path
    await grade_if_ungraded(demo_db)  # what `onemap demo up` does: the map is coloured
    target = await _target(demo_db)
    monkeypatch.setenv("ONEMAP_GRADING_INTERVAL_S", "0")  # only the pushed change moves levels
    result = await browser.run_against(demo_db, "browser.mjs", {"TARGET": target}, shots)
    assert result["checks"] == [
        "login", "map draws tiles", "filters", "search", "popup explanation", "buffer tool",
        "nearest tool", "impact tool", "risk surface layer", "level change in feed and on map",
        "monitoring point readings", "languages", "screenshots", "offline and error-free",
    ]  # fmt: skip
    # the regrade's hook built the risk surface, so the heat layer was offered and drawn
    assert result["raster"] > 0
    # what the browser saw matches the database
    change = result["change"]
    assert change["unit"] == target["unit"] and change["from"] == "low"
    assert change["to"] == await _level(demo_db, target["unit"]) != "low"
    for name in ("onemap-1366x768.png", "onescreen-1920x1080.png", "dashboard.png"):
        assert (shots / name).stat().st_size > 10_000, name
