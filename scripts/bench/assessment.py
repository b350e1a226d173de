"""scripts.bench.assessment: the whole live scorecard on the Xi'an demo city (goal <= 1 s).

Ours: `scorecard.compute` (the framework's items, every auto-scored item and every indicator
shown beside an item recomputed from the store, the evidence, the decimal sums) on a scratch
copy of the demo city. The fire brigades' 5-minute reach (the routing engine's coverage, seconds)
is computed once per road build, station set and population (its own row: the first card);
the warm rows recompute everything else. Reference: the old-pipe SQL alone
(`old_pipe_renewal.sql`), the floor any implementation pays.

    python -m scripts.bench assessment
"""

from __future__ import annotations

import statistics

import asyncpg

from api.assessment import framework, scorecard
from api.db import init_connection
from api.sqlfiles import load
from scripts.bench import Context, Row, console, scratch_database, timer

YEAR = 2026


async def run(ctx: Context) -> list[Row]:
    """Median of `ctx.repeat` x 5 scorecards against the same number of bare SQL runs."""
    from geodata.build import load_demo

    async with scratch_database(ctx.settings, "assess") as settings:
        await load_demo(settings, show_progress=False)
        conn = await asyncpg.connect(settings.database_url)
        await init_connection(conn)
        try:
            version = await framework.latest_version(conn)
            assert version is not None
            ours, ref = [], []
            with timer() as t:
                await scorecard.compute(conn, version, YEAR, None)  # the fire reach, computed
            first = t[0]
            for _ in range(ctx.repeat * 5):
                with timer() as t:
                    card = await scorecard.compute(conn, version, YEAR, None)
                ours.append(t[0])
                with timer() as t:
                    await conn.fetchrow(load("assessment/sql/old_pipe_renewal.sql"), YEAR, None)
                ref.append(t[0])
        finally:
            await conn.close()
    console.print(f"  scorecard total {card['total']} of {card['max']}")
    o, r = statistics.median(ours), statistics.median(ref)
    return [Row("whole scorecard, demo city (auto items recomputed)", f"{o * 1000:.1f} ms",
                f"{r * 1000:.1f} ms (old-pipe SQL alone)", f"{r / o:.2f}", "<= 1 s"),
            Row("first scorecard (with the fire brigades' 5-min reach)", f"{first * 1000:.0f} ms",
                f"{r * 1000:.1f} ms (old-pipe SQL alone)", f"{r / first:.3f}", "-")]  # fmt: skip
