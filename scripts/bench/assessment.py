"""scripts.bench.assessment: the whole live scorecard on the Xi'an demo city (goal <= 1 s).

Ours: `scorecard.compute` (the framework's items, every auto-scored item and every indicator
shown beside an item recomputed from the store, the evidence, the decimal sums) on a scratch
copy of the demo city. The fire brigades' 5-minute reach (the routing engine's coverage, seconds)
is computed once per road build, station set and population (its own row: the first card);
the warm rows recompute everything else (after the demo's first readings, as `onemap demo up`,
so every hydrant reports). One district's share is timed too. Reference: the old-pipe SQL alone
(`old_pipe_renewal.sql`), the floor any implementation pays.

    python -m scripts.bench assessment
"""

from __future__ import annotations

import statistics
from datetime import date

import asyncpg

from api.assessment import framework, scorecard
from api.db import init_connection
from api.sqlfiles import load
from scripts.bench import Context, Row, console, scratch_database, timer

YEAR = 2026
#: the district whose share is timed (雁塔区: the most mains and hydrants)
SHARE = "610113"


async def run(ctx: Context) -> list[Row]:
    """Median of `ctx.repeat` x 5 scorecards against the same number of bare SQL runs."""
    from geodata.build import load_demo
    from geodata.first_readings import send_first_readings

    async with scratch_database(ctx.settings, "assess") as settings:
        await load_demo(settings, show_progress=False)
        await send_first_readings(settings)  # as `onemap demo up`: every point (hydrant) live
        conn = await asyncpg.connect(settings.database_url)
        await init_connection(conn)
        try:
            version = await framework.latest_version(conn)
            assert version is not None
            ours, ref, share = [], [], []
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
                with timer() as t:
                    await scorecard.compute(conn, version, YEAR, SHARE)
                share.append(t[0])
            bulletin_row = await _bulletin(ctx, conn, version)
        finally:
            await conn.close()
    console.print(f"  scorecard total {card['total']} of {card['max']}")
    o, r, d = statistics.median(ours), statistics.median(ref), statistics.median(share)
    return [Row("whole scorecard, demo city (auto items recomputed)", f"{o * 1000:.1f} ms",
                f"{r * 1000:.1f} ms (old-pipe SQL alone)", f"{r / o:.2f}", "<= 1 s"),
            Row(f"one district's share (?org={SHARE}, measured on its ground)",
                f"{d * 1000:.1f} ms", f"{r * 1000:.1f} ms (old-pipe SQL alone)", f"{r / d:.2f}",
                "<= 1 s"),
            Row("first scorecard (with the fire brigades' 5-min reach)", f"{first * 1000:.0f} ms",
                f"{r * 1000:.1f} ms (old-pipe SQL alone)", f"{r / first:.3f}", "-"),
            bulletin_row]  # fmt: skip


async def _bulletin(ctx: Context, conn: asyncpg.Connection, version: str) -> Row:
    """The monthly bulletin PDF (scorecard, completion and hazard rankings, charts, the map of
    red and orange units, weasyprint with the CJK font embedded) against gathering its data
    alone (the same queries, no layout)."""
    import asyncio

    from api.assessment import bulletin
    from geodata.build import demo_stamp
    from geodata.tasks import bulletin_month

    stamp = await demo_stamp(conn)
    assert stamp is not None
    month = bulletin_month(date.fromisoformat(stamp["as_of"]))
    key, year = month.strftime("%Y-%m"), month.year
    ours, ref, size = [], [], 0
    for _ in range(max(3, ctx.repeat)):
        with timer() as t:
            card = await scorecard.compute(conn, version, year, None)
            data = await bulletin.gather(conn, year, key, "Asia/Shanghai", card, None)
        ref.append(t[0])
        with timer() as t:
            card = await scorecard.compute(conn, version, year, None)
            data = await bulletin.gather(conn, year, key, "Asia/Shanghai", card, None)
            size = len(await asyncio.to_thread(bulletin.pdf, data))
        ours.append(t[0])
    console.print(f"  bulletin {key}: {size} bytes")
    o, r = statistics.median(ours), statistics.median(ref)
    return Row(
        f"bulletin PDF {key}, demo city",
        f"{o:.2f} s",
        f"{r:.2f} s (its data alone)",
        f"{r / o:.2f}",
        "<= 10 s",
    )
