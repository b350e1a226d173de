"""Stored XSS: server strings never become markup, and the page's CSP forbids inline script.

An editor imports, through the real import API (POST /layers/{layer}/import on a live
server), a district and a risk unit whose names and codes are HTML with event handlers
and attribute break-outs. frontend/tests/xss.mjs then logs in as an analyst in Debian's
chromium, opens every place those strings show (filter panel, dashboard, the live feed
after an editor reports a hidden hazard there, search, popup and explanation) and proves
that they read as text, that no element was made from them, that no handler ran, and
that the CSP refuses an inline script while MapLibre still draws the map. The popup's
explanation must also give each factor's and floor's reason in the page's language
(Chinese, then English after the language toggle).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import shapely

from api.auth.users import ensure_demo_users
from api.settings import Settings
from tests.conftest import app_client, role_headers
from tests.support import browser
from tests.support import files as F
from tests.support.liveserver import live_server

RUN = "window.__xss=(window.__xss||0)+1"
DISTRICT = {
    "code": f'd1"><svg onload="{RUN}">',
    "name": f'<img src=x onerror="{RUN}">',
    "adcode": "610199",
}
UNIT = {
    "code": f"u1'\"><img src=x onerror={RUN}>",
    "name": f'<script>{RUN}</script><svg onload="{RUN}"></svg>',
    "category": "gas",
    "registered_level": "general",
}
AREA = shapely.box(108.9, 34.2, 109.0, 34.3)


def _import(base: str, headers: dict[str, str], layer: str, path: Path) -> dict[str, int]:
    """POST the file to the live server's import route, as the editor."""
    with path.open("rb") as fh:
        files = {"file": (path.name, fh, "application/geo+json")}
        r = httpx.post(f"{base}/layers/{layer}/import", headers=headers, files=files, timeout=60)
    assert r.status_code == 200, r.text
    return r.json()


async def test_the_page_sends_a_csp_without_inline_script(empty_db: Settings) -> None:
    """/ carries a Content-Security-Policy: scripts from this origin only; MapLibre's worker."""
    browser.build_frontend()
    basemap = empty_db.model_copy(update={"basemap_url": "https://t0.example.cn/w?x={x}&tk={key}"})
    async with app_client(basemap) as client:
        r = await client.get("/")
    csp = dict(d.strip().split(" ", 1) for d in r.headers["content-security-policy"].split(";"))
    assert csp["script-src"] == "'self'"
    assert csp["worker-src"] == "'self' blob:" and csp["object-src"] == "'none'"
    assert csp["connect-src"] == "'self' https://t0.example.cn"
    assert csp["img-src"] == "'self' data: blob: https://t0.example.cn"
    assert r.headers["x-content-type-options"] == "nosniff"
    # the built page has no inline script for the policy to break
    assert "<script>" not in r.text and '<script type="module">' not in r.text


async def test_imported_html_never_runs_in_the_browser(empty_db: Settings, tmp_path: Path) -> None:
    """Names and codes with HTML, imported by an editor, show as text; nothing runs."""
    browser.ensure_browser()
    browser.build_frontend()
    headers = await role_headers(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await ensure_demo_users(conn)
    finally:
        await conn.close()
    districts = F.geojson(tmp_path / "districts.geojson", [F.feature(DISTRICT, AREA)])
    units = F.geojson(tmp_path / "units.geojson",
                      [F.feature(UNIT, shapely.Point(108.95, 34.25))])  # fmt: skip
    # no scheduled regrade: the unit's first grade comes from the hazard the browser test reports
    with live_server(empty_db, {"ONEMAP_GRADING_INTERVAL_S": "0"}) as base:
        assert _import(base, headers["editor"], "districts", districts)["inserted"] == 1
        assert _import(base, headers["editor"], "risk_units", units)["inserted"] == 1
        xss = {"district": DISTRICT, "unit": UNIT, "editor": headers["editor"]}
        result = await asyncio.to_thread(browser.run_script, "xss.mjs", base, {"XSS": xss})
    assert result["checks"] == [
        "csp header", "map runs under the csp", "filter panel", "dashboard", "live feed",
        "search", "popup", "popup reasons in both languages", "csp refuses inline script",
        "no payload request, no page error",
    ]  # fmt: skip
    # the strings were stored as sent (escaping is the front end's, not a mangled import)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        row = await conn.fetchrow("SELECT name, district FROM risk_units WHERE code = $1",
                                  UNIT["code"])  # fmt: skip
    finally:
        await conn.close()
    assert row is not None and (row["name"], row["district"]) == (UNIT["name"], DISTRICT["code"])
