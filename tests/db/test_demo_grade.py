"""`onemap demo up` grades the demo city once, so the first map is coloured; reruns are no-ops."""

from __future__ import annotations

import asyncpg

from api.cli.demo import grade_if_ungraded
from api.settings import Settings


async def test_demo_up_grades_every_unit_once(demo_db: Settings) -> None:
    """The loaded demo has no levels; one pass sets all of them; a second pass does nothing."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        count = "SELECT count(*) FILTER (WHERE current_level IS NULL), count(*) FROM risk_units"
        ungraded, total = await conn.fetchrow(count)
        assert ungraded == total > 3000
        await grade_if_ungraded(demo_db)
        assert tuple(await conn.fetchrow(count)) == (0, total)
        runs = "SELECT (SELECT count(*) FROM grading_runs), (SELECT count(*) FROM grade_history)"
        first = tuple(await conn.fetchrow(runs))
        assert first[1] == total  # one explained history row per unit
        await grade_if_ungraded(demo_db)
        assert tuple(await conn.fetchrow(runs)) == first
    finally:
        await conn.close()
