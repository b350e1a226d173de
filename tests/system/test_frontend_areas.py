"""The one screen's areas table in a real browser: the seed's 20 areas beside the live figures.

Runs frontend/tests/areas.mjs (playwright-core driving Debian's chromium) against a live
server on a copy of the demo city, as tests/system/test_frontend.py runs browser.mjs.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from api.auth.users import ensure_demo_users
from api.settings import Settings
from tests.support import browser


async def test_areas_table_in_the_browser(demo_db: Settings, tmp_path: Path) -> None:
    """A viewer sees the 20 areas, each area's live depots and stock equal to the table's."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await ensure_demo_users(conn)
    finally:
        await conn.close()
    result = await browser.run_against(demo_db, "areas.mjs", shots=tmp_path)
    assert result["checks"] == [
        "login and areas table", "twenty areas", "live figures beside the table's", "languages",
        "error-free",
    ]  # fmt: skip
    assert (tmp_path / "areas.png").stat().st_size > 10_000
