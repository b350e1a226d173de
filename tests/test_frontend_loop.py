"""The hidden-hazard loop in a real browser: frontend/tests/loop.mjs against a live server.

Report by clicking the map, assign, an evidence photo (with EXIF GPS) uploaded and shown,
the rectifier refused as verifier, another person verifies and closes; the database then
holds what the browser did. Fails, never skips, when node or chromium cannot be had.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from api.auth.users import ensure_demo_users
from api.settings import PROJECT_ROOT, Settings
from tests import hazard_files as HF
from tests.liveserver import live_server
from tests.test_frontend import CHROMIUM, _build_frontend, _ensure_browser
from tests.test_hazard_loop import seed

LON, LAT = 108.9, 34.2
UNIT: dict[str, Any] = {"unit": "IN", "lon": LON, "lat": LAT, "org": "D-GAS"}


def _run(settings: Settings, loop: dict[str, Any], shots: Path) -> subprocess.CompletedProcess[str]:
    with live_server(settings) as base:
        assert httpx.get(f"{base}/").status_code == 200
        env = {**os.environ, "ONEMAP_BASE_URL": base, "ONEMAP_LOOP": json.dumps(loop),
               "ONEMAP_SCREENSHOTS": str(shots), "CHROMIUM": CHROMIUM}  # fmt: skip
        return subprocess.run(
            ["node", "tests/loop.mjs"], cwd=PROJECT_ROOT / "frontend", env=env,
            capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip


async def test_hazard_loop_in_the_browser(empty_db: Settings, tmp_path: Path) -> None:
    """The loop end to end with an evidence photo; separation of duties holds on screen."""
    _ensure_browser()
    _build_frontend()
    await seed(empty_db)
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        await ensure_demo_users(conn)
    finally:
        await conn.close()
    photo = tmp_path / "site.jpg"
    photo.write_bytes(HF.jpeg_with_gps(LON, LAT))
    run = await asyncio.to_thread(_run, empty_db, {**UNIT, "photo": str(photo)}, tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    assert result["checks"] == [
        "report on map", "assign to a department", "rectify with an evidence photo",
        "separation of duties", "verify and close by another", "evidence in the popup",
        "ranking", "offline and error-free",
    ]  # fmt: skip
    conn = await asyncpg.connect(empty_db.database_url)
    try:
        row = await conn.fetchrow(
            "SELECT h.id, h.status, h.severity, h.assigned_org, h.rectified_by, h.verified_by, "
            "ru.code AS unit FROM hidden_hazards h JOIN risk_units ru ON ru.id = h.risk_unit_id "
            "WHERE h.code = $1", result["code"],
        )  # fmt: skip
        assert dict(row) | {"id": 0} == {
            "id": 0, "status": "closed", "severity": "large", "assigned_org": "D-GAS",
            "rectified_by": "editor", "verified_by": "admin", "unit": "IN",
        }  # fmt: skip
        ev = await conn.fetchrow(
            "SELECT e.exif_lon, e.exif_lat, e.content, ev.to_status FROM hidden_hazard_evidence e "
            "JOIN hidden_hazard_events ev ON ev.id = e.event_id WHERE e.hazard_id = $1", row["id"],
        )  # fmt: skip
        assert ev["to_status"] == "rectifying"
        assert abs(ev["exif_lon"] - 108.9) < 1e-6 and abs(ev["exif_lat"] - 34.2) < 1e-6
        assert b"Exif" not in ev["content"]
    finally:
        await conn.close()
