"""The one screen's assessment section in a real browser: the gauge shows the API total.

Runs frontend/tests/assessment.mjs (playwright-core driving Debian's chromium, through the
shared harness and tests/support/browser.py) against a live server on a copy of the demo city.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from api.auth.users import ensure_demo_users
from api.settings import Settings
from tests.support import browser


@pytest.mark.slow
async def test_assessment_in_the_browser(demo_db: Settings, tmp_path: Path) -> None:
    """A viewer sees the score gauge showing the API's total, the items losing the most points
    and the departments ranked by the last month's task completion."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await ensure_demo_users(conn)
    finally:
        await conn.close()
    result = await browser.run_against(demo_db, "assessment.mjs", shots=tmp_path)
    assert result["checks"] == [
        "login and gauge", "gauge shows the API's total", "items losing the most points",
        "ranking by completion", "error-free",
    ]  # fmt: skip
    assert (tmp_path / "assessment.png").stat().st_size > 10_000
