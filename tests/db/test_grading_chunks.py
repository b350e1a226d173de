"""A first grading in chunks on several connections (api/grading/engine.py): the same grades,
explanations and versions as one statement; grade ids committed in order; a failed chunk
leaves the others whole and the layer's version bumped.

The Xi'an demo city (3,176 units), with the chunking thresholds lowered so that it is
split into many small chunks on two connections.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest

from api.db import connect, create_pool
from api.grading import engine, store
from api.grading import statements as sqlfiles
from api.grading.service import GradingService
from api.settings import Settings

pytestmark = pytest.mark.slow

UNITS = 3176
_STATE = {
    "units": "SELECT ru.code, ru.current_level, ru.current_r, ru.level_changed_at "
    "FROM risk_units ru ORDER BY ru.code",
    "history": "SELECT ru.code, h.from_level, h.to_level, h.r, h.r0, h.as_of, h.param_version, "
    "onemap_explanation(h)::text AS explanation FROM grade_history h "
    "JOIN risk_units ru ON ru.id = h.risk_unit_id ORDER BY ru.code",
    "versions": "SELECT code, version, actor, actor_kind, via, op, data::text, diff::text, "
    "compact FROM feature_history WHERE layer = 'risk_units' ORDER BY code, version",
}
_LAYER = "SELECT version FROM layer_versions WHERE layer = 'risk_units'"


class _Rollback(Exception):
    pass


async def _state(conn: asyncpg.Connection) -> dict[str, list[tuple[Any, ...]]]:
    return {k: [tuple(r) for r in await conn.fetch(q)] for k, q in _STATE.items()}


@pytest.fixture
async def city(demo_db: Settings) -> AsyncIterator[tuple[asyncpg.Connection, engine.Connect]]:
    """The demo city's connection, and how the chunks open theirs (as the app's service)."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await store.ensure_default(conn)
        yield conn, lambda: connect(demo_db)
    finally:
        await conn.close()


#: weather warnings over the west half and the middle of the city and a special period
#: over its north-east quarter (the demo city has none in force): explain.sql finds their
#: units by geometry, kept to each chunk's ids (statements.CHUNK_COLUMNS), and grades the
#: top colour of the relevant ones by a window
_EVENTS = """
WITH e AS (SELECT ST_XMin(x) AS x0, ST_YMin(x) AS y0, ST_XMax(x) AS x1, ST_YMax(x) AS y1,
                  (ST_XMin(x) + ST_XMax(x)) / 2 AS xm, (ST_YMin(x) + ST_YMax(x)) / 2 AS ym
             FROM (SELECT ST_Extent(geom)::box2d AS x FROM risk_units) b),
w AS (
    INSERT INTO weather_warnings (code, name, type, colour, valid_from, valid_to, geom)
    SELECT v.code, v.code, v.type, v.colour, $1::timestamptz - interval '1 hour',
           $1::timestamptz + interval '1 day', ST_Multi(ST_MakeEnvelope(v.a, v.b, v.c, v.d, 4326))
      FROM e CROSS JOIN LATERAL (VALUES
           ('W-rain', 'rainstorm', 'orange', e.x0, e.y0, e.xm, e.y1),
           ('W-heat', 'heat', 'yellow', (e.x0 + e.xm) / 2, (e.y0 + e.ym) / 2,
            (e.xm + e.x1) / 2, (e.ym + e.y1) / 2)) AS v (code, type, colour, a, b, c, d)
    RETURNING 1
)
INSERT INTO special_periods (code, name, starts_at, ends_at, geom)
SELECT 'P-ne', 'P-ne', $1::timestamptz - interval '1 hour', $1::timestamptz + interval '1 day',
       ST_Multi(ST_MakeEnvelope(e.xm, e.ym, e.x1, e.y1, 4326))
  FROM e WHERE (SELECT count(*) FROM w) = 2
"""
#: the units whose explanation lists a warning, ignores one, lists the period
_LISTED = """
SELECT count(*) FILTER (WHERE e LIKE '%"W-rain"%' OR e LIKE '%"W-heat"%') AS warned,
       count(*) FILTER (WHERE e LIKE '%is not relevant to%') AS ignored,
       count(*) FILTER (WHERE e LIKE '%"P-ne"%') AS period
  FROM (SELECT onemap_explanation(h)::text AS e FROM grade_history h) x
"""


def _small_chunks(monkeypatch: pytest.MonkeyPatch, units: int) -> None:
    monkeypatch.setattr(engine, "CHUNKED_FROM", 1)
    monkeypatch.setattr(engine, "CHUNK_UNITS", units)


async def test_chunks_grade_as_one_statement_does(
    city: tuple[asyncpg.Connection, engine.Connect], monkeypatch: pytest.MonkeyPatch
) -> None:
    """16 chunks on two connections: every unit's level, history row (its explanation
    rendered) and feature version as the one-statement first grading's; one grading run,
    one version bump, the grade ids one block."""
    conn, opener = city
    params = await store.active_params(conn)
    as_of = datetime.now(UTC).replace(microsecond=0)
    await conn.execute(_EVENTS, as_of)
    layer = await conn.fetchval(_LAYER)
    with pytest.raises(_Rollback):
        async with conn.transaction():  # the caller's transaction: one statement
            one = await engine.regrade(conn, params, as_of, trigger="test", connect=opener,
                                       workers=2)  # fmt: skip
            alone = await _state(conn)
            listed = await conn.fetchrow(_LISTED)
            assert min(listed) > 100, dict(listed)  # the events reach many units, some ignored
            assert await conn.fetchval(_LAYER) == layer + 1
            assert await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM grade_history") == 1
            raise _Rollback
    _small_chunks(monkeypatch, 200)
    res = await engine.regrade(conn, params, as_of, trigger="test", connect=opener, workers=2)
    assert (res.units, len(res.changed), res.mismatches) == (UNITS, UNITS, 0)
    assert res.exposure_refreshed == one.exposure_refreshed == UNITS
    assert sorted(res.changed, key=lambda c: c["code"]) == sorted(
        one.changed, key=lambda c: c["code"])  # fmt: skip
    assert await _state(conn) == alone
    assert await conn.fetchrow(_LISTED) == listed
    # 16 transactions of their own (the chunks), their ids one block, the layer bumped once
    assert await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM grade_history") == 16
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM grade_history ORDER BY id")]
    assert ids == list(range(ids[0], ids[0] + UNITS))
    assert await conn.fetchval(_LAYER) == layer + 1
    runs = await conn.fetch("SELECT kind, units, changed FROM grading_runs")
    assert [tuple(r) for r in runs] == [("full", UNITS, UNITS)]
    again = await engine.regrade(conn, params, as_of, trigger="test", connect=opener, workers=2)
    assert (again.written, again.changed, again.exposure_refreshed) == (0, [], 0)
    assert await conn.fetchval(_LAYER) == layer + 1


async def test_grade_events_read_while_chunks_commit_miss_nothing(
    city: tuple[asyncpg.Connection, engine.Connect], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader of grade_history after the last id it saw (as grade events are read), polling
    while 32 chunks commit on two connections, sees every row once: the ids commit in order."""
    conn, opener = city
    params = await store.active_params(conn)
    _small_chunks(monkeypatch, 100)
    seen: list[int] = []
    polls = 0
    stop = asyncio.Event()

    async def poll(reader: asyncpg.Connection) -> None:
        nonlocal polls
        while True:
            last = seen[-1] if seen else 0
            seen.extend(r["id"] for r in await reader.fetch(
                "SELECT id FROM grade_history WHERE id > $1 ORDER BY id", last))  # fmt: skip
            polls += 1
            if stop.is_set():
                return
            await asyncio.sleep(0)

    async with opener() as reader:
        polling = asyncio.create_task(poll(reader))
        res = await engine.regrade(conn, params, datetime.now(UTC), trigger="test",
                                   connect=opener, workers=2)  # fmt: skip
        stop.set()
        await polling
    assert len(res.changed) == UNITS
    assert await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM grade_history") == 32
    everything = [r["id"] for r in await conn.fetch("SELECT id FROM grade_history ORDER BY id")]
    assert polls > 32
    assert seen == everything


async def test_a_failed_chunk_leaves_the_others_and_the_next_regrade_ends_the_work(
    city: tuple[asyncpg.Connection, engine.Connect], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A chunk that fails rolls back alone: the chunks committed before it stay graded, the
    tiles' version is bumped for them all the same, and the next regrade grades the rest."""
    conn, opener = city
    params = await store.active_params(conn)
    layer = await conn.fetchval(_LAYER)
    ids = [r["id"] for r in await conn.fetch("SELECT id FROM risk_units ORDER BY id")]
    doomed = ids[1700]  # in the 18th of 32 chunks
    real = sqlfiles.first
    boom = f"SELECT 1 / (upd.id - {doomed}) AS boom, upd.id, upd.code"
    monkeypatch.setattr(sqlfiles, "first", lambda: real().replace("SELECT upd.id, upd.code", boom))
    _small_chunks(monkeypatch, 100)
    with pytest.raises(asyncpg.DivisionByZeroError):
        await engine.regrade(conn, params, datetime.now(UTC), trigger="test", connect=opener,
                             workers=2)  # fmt: skip
    graded = {r["id"] for r in await conn.fetch(
        "SELECT id FROM risk_units WHERE current_level IS NOT NULL")}  # fmt: skip
    assert doomed not in graded
    assert set(ids[:1600]) <= graded  # the chunks before the doomed one's (99 or 100 units each)
    assert await conn.fetchval("SELECT count(*) FROM grade_history") == len(graded)
    assert await conn.fetchval(_LAYER) == layer + 1
    assert await conn.fetchval("SELECT count(*) FROM grading_runs") == 0
    monkeypatch.setattr(sqlfiles, "first", real)
    res = await engine.regrade(conn, params, datetime.now(UTC), trigger="test", connect=opener,
                               workers=2)  # fmt: skip
    assert len(res.changed) == UNITS - len(graded)
    counts = await conn.fetchrow(
        "SELECT count(*) AS n, count(DISTINCT risk_unit_id) AS units FROM grade_history"
    )
    assert tuple(counts) == (UNITS, UNITS)
    assert await conn.fetchval(
        "SELECT count(*) FROM risk_units WHERE current_level IS NULL") == 0  # fmt: skip
    assert await conn.fetchval(_LAYER) == layer + 2


async def test_the_apps_full_regrade_runs_a_big_first_grading_in_chunks(
    demo_db: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """GradingService.regrade_all (the API's, the CLI's and the schedule's) opens the chunks'
    connections itself, ONEMAP_GRADING_WORKERS of them; with 1, one statement."""
    _small_chunks(monkeypatch, 1000)
    for workers, transactions in ((1, 1), (3, 4)):
        settings = demo_db.model_copy(update={"grading_workers": workers})
        pool = await create_pool(settings)
        try:
            async with pool.acquire() as conn:
                await store.ensure_default(conn)
                await conn.execute("UPDATE risk_units SET current_level = NULL, current_r = NULL, "
                                   "level_changed_at = NULL")  # fmt: skip
                await conn.execute("DELETE FROM grade_history")
            res = await GradingService(pool, settings).regrade_all(trigger="test")
            assert len(res.changed) == UNITS
            async with pool.acquire() as conn:
                xids = await conn.fetchval("SELECT count(DISTINCT xmin::text) FROM grade_history")
            assert xids == transactions
        finally:
            await pool.close()
