"""The one screen's assessment section in a real browser: the gauge shows the API total.

Runs frontend/tests/assessment.mjs (playwright-core driving Debian's chromium, through the
shared harness and tests/support/browser.py) against a live server on a copy of the demo city.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from api.auth.users import ensure_demo_users
from api.settings import Settings
from tests.support import browser


@pytest.mark.slow
async def test_assessment_in_the_browser(demo_db: Settings, tmp_path: Path) -> None:
    """A viewer sees the score gauge showing the API's total, the items losing the most points,
    the departments ranked by the last month's task completion and the hidden hazards' on-time
    rate; closing the overdue hazards raises the rate on the screen."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await ensure_demo_users(conn)
        result = await browser.run_against(demo_db, "assessment.mjs", shots=tmp_path)
        checks = [
            "login and gauge", "gauge shows the API's total", "items losing the most points",
            "ranking by completion", "on-time rate of hidden hazards", "error-free",
        ]  # fmt: skip
        assert result["checks"] == checks
        assert (tmp_path / "assessment.png").stat().st_size > 10_000
        closed = await conn.execute(
            "UPDATE hidden_hazards SET status = 'closed', closed_at = now(), "
            "verified_at = coalesce(verified_at, now()), rectified_at = coalesce(rectified_at, "
            "now()) WHERE status IN ('reported', 'assigned', 'rectifying') "
            "AND due_date < (now() AT TIME ZONE 'Asia/Shanghai')::date"
        )
        assert int(closed.split()[-1]) > 0
        again = await browser.run_against(demo_db, "assessment.mjs", shots=tmp_path)
        assert again["checks"] == checks
        assert Decimal(again["onTime"]) > Decimal(result["onTime"])
    finally:
        await conn.close()
