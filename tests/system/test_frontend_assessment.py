"""The one screen's assessment section in a real browser: the gauge shows the API total.

Runs frontend/tests/assessment.mjs (playwright-core driving Debian's chromium) against a live
server on a copy of the demo city, as tests/system/test_frontend.py runs browser.mjs.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import asyncpg
import httpx
import pytest

from api.auth.users import ensure_demo_users
from api.settings import PROJECT_ROOT, Settings
from tests.support.liveserver import live_server
from tests.system.test_frontend import CHROMIUM, _build_frontend, _ensure_browser


def _run(settings: Settings, shots: Path) -> subprocess.CompletedProcess[str]:
    """frontend/tests/assessment.mjs against a live server on these settings' database."""
    with live_server(settings) as base:
        assert httpx.get(f"{base}/").status_code == 200
        env = {**os.environ, "ONEMAP_BASE_URL": base, "ONEMAP_SCREENSHOTS": str(shots),
               "CHROMIUM": CHROMIUM}  # fmt: skip
        return subprocess.run(
            ["node", "tests/assessment.mjs"],
            cwd=PROJECT_ROOT / "frontend", env=env, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip


@pytest.mark.slow
async def test_assessment_in_the_browser(demo_db: Settings, tmp_path: Path) -> None:
    """A viewer sees the score gauge showing the API's total, the items losing the most points
    and the departments ranked by the last month's task completion."""
    _ensure_browser()
    _build_frontend()
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await ensure_demo_users(conn)
    finally:
        await conn.close()
    run = await asyncio.to_thread(_run, demo_db, tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    result = json.loads(out.split("RESULT ", 1)[1].splitlines()[0])
    assert result["checks"] == [
        "login and gauge", "gauge shows the API's total", "items losing the most points",
        "ranking by completion", "error-free",
    ]  # fmt: skip
    assert (tmp_path / "assessment.png").stat().st_size > 10_000
