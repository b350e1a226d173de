"""A full regrade reads one consistent snapshot; grading the same snapshot again gives the same.

An event committed while a regrade runs (here: a city-wide special period,
written from another connection between the regrade's exposure phase and its
scoring) must not be half-seen: the regrade grades the state at its start, the
explanations agree with the written levels, and the next regrade picks the
event up.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta

import asyncpg

from api.grading import engine, store
from api.settings import Settings

AS_OF = datetime.now(UTC).replace(microsecond=0)


async def _levels(conn: asyncpg.Connection) -> dict[str, tuple[str, float]]:
    """Every unit's stored level and R."""
    rows = await conn.fetch("SELECT code, current_level AS level, current_r AS r FROM risk_units")
    return {r["code"]: (r["level"], float(r["r"])) for r in rows}


async def _scores(conn: asyncpg.Connection) -> dict[str, tuple[str, float]]:
    """What the SQL path grades every unit at AS_OF over the connection's snapshot."""
    params = await store.active_params(conn)
    rows = await engine.score_only(conn, params, AS_OF)
    return {r["code"]: (r["level"], float(r["r"])) for r in rows}


def _commit_special_period(url: str) -> None:
    """From another thread and connection: a city-wide special period, committed now."""

    async def write() -> None:
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(
                "INSERT INTO special_periods (code, name, starts_at, ends_at) "
                "VALUES ('snapshot-test', 'festival', $1, $2)",
                AS_OF - timedelta(days=1), AS_OF + timedelta(days=1),
            )  # fmt: skip
        finally:
            await conn.close()

    thread = threading.Thread(target=lambda: asyncio.run(write()))
    thread.start()
    thread.join()


async def test_full_regrade_reads_one_snapshot(demo_db: Settings) -> None:
    """An event committed mid-regrade is graded by the next regrade, not half by this one."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        params = await store.active_params(conn)
        await engine.regrade(conn, params, AS_OF)  # settle the demo at AS_OF
        before = await _scores(conn)
        assert before == await _levels(conn)
        written = False

        def progress(phase: str, done: int, total: int) -> None:
            nonlocal written
            if phase == "grade" and done == 0 and not written:  # after exposure, before scores
                _commit_special_period(demo_db.database_url)
                written = True

        result = await engine.regrade(conn, params, AS_OF, progress=progress)
        assert written
        after = await _scores(conn)
        moved = {c for c in before if before[c] != after[c]}
        assert len(moved) > 10  # the event matters: a half-seen snapshot would show
        assert result.mismatches == 0
        assert result.written == 0 and result.changed == []  # graded the state at its start
        assert await _levels(conn) == before
        # the next regrade grades the event; again on the same state changes nothing
        nxt = await engine.regrade(conn, params, AS_OF)
        assert nxt.mismatches == 0
        assert {c["code"] for c in nxt.changed} <= moved
        assert await _levels(conn) == after
        again = await engine.regrade(conn, params, AS_OF)
        assert (again.written, again.changed, again.mismatches) == (0, [], 0)
        assert await _levels(conn) == after
    finally:
        await conn.close()


async def test_same_snapshot_grades_the_same(demo_db: Settings) -> None:
    """Scoring twice inside one snapshot gives the same grades, whatever commits in between."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        async with conn.transaction(isolation="repeatable_read"):
            first = await _scores(conn)
            _commit_special_period(demo_db.database_url)
            second = await _scores(conn)
        assert first == second
        assert await _scores(conn) != first  # outside it, the new period is seen
    finally:
        await conn.close()
