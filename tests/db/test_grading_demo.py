"""The Xi'an demo city: both grading paths agree on every unit; a full regrade explains itself."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from api.grading import engine, loader, store
from api.grading.model import grade
from api.settings import Settings


async def _as_ofs(conn: asyncpg.Connection) -> list[datetime]:
    """Now, and the instant of the demo's last hidden hazard report (a busy moment)."""
    busy = await conn.fetchval("SELECT max(reported_at) FROM hidden_hazards")
    return [datetime.now(UTC).replace(microsecond=0), busy + timedelta(minutes=1)]


@pytest.mark.slow
async def test_both_paths_agree_on_every_demo_unit(demo_db: Settings) -> None:
    """3,176 units, graded in one SQL pass and one by one by the model: the same grades."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await store.ensure_default(conn)
        params = await store.active_params(conn)
        refreshed = await engine.refresh_exposure(conn, params)
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM risk_units ORDER BY id")]
        assert refreshed == len(ids) == 3176
        for as_of in await _as_ofs(conn):
            rows = {r["id"]: r for r in await engine.score_only(conn, params, as_of)}
            units = await loader.load_units(conn, ids, as_of, params)
            levels: Counter[str] = Counter()
            for uid in ids:
                item = units[uid]
                g = grade(item.unit, item.model_events(), as_of, params, item.current_level)
                row = rows[uid]
                assert (row["level"], row["r"], row["r0"], row["sum_k"]) == (
                    g.level, g.r, g.now.r0, g.now.sum_k), (item.unit.code, as_of)  # fmt: skip
                levels[g.level] += 1
            # the demo has every level somewhere
            assert set(levels) == {"low", "general", "large", "major"}, levels
    finally:
        await conn.close()


@pytest.mark.slow
async def test_full_regrade_of_the_demo_city(demo_db: Settings) -> None:
    """Every unit gets a level and one explained history row; a second pass changes nothing."""
    conn = await asyncpg.connect(demo_db.database_url)
    try:
        await store.ensure_default(conn)
        params = await store.active_params(conn)
        as_of = datetime.now(UTC)
        first = await engine.regrade(conn, params, as_of, trigger="test")
        assert (first.units, len(first.changed), first.mismatches) == (3176, 3176, 0)
        stored = Counter(
            {
                r["current_level"]: r["n"]
                for r in await conn.fetch(
                    "SELECT current_level, count(*) AS n FROM risk_units GROUP BY 1"
                )
            }  # fmt: skip
        )
        assert stored == Counter(c["to"] for c in first.changed)
        (n, explained) = await conn.fetchrow(
            "SELECT count(*), count(*) FILTER (WHERE onemap_explanation(h) ->> 'level' = to_level) "
            "FROM grade_history h"
        )
        assert n == explained == 3176
        sample = json.loads(await conn.fetchval(
            "SELECT onemap_explanation(h)::text FROM grade_history h "
            "ORDER BY r DESC LIMIT 1"))  # fmt: skip
        assert sample["level"] == "major" and sample["param_version"] == 1
        # every explanation came from explain.sql (a first grading): the model's, key for key
        rows = await conn.fetch(
            "SELECT risk_unit_id, onemap_explanation(h)::text AS x FROM grade_history h"
        )
        explained = {r["risk_unit_id"]: json.loads(r["x"]) for r in rows}
        units = await loader.load_units(conn, list(explained), as_of, params)
        for uid, got in explained.items():
            item = units[uid]
            want = grade(item.unit, item.model_events(), as_of, params, None).to_json()
            assert got == json.loads(json.dumps(want, ensure_ascii=False)), item.unit.code
        second = await engine.regrade(conn, params, as_of, trigger="test")
        assert (second.written, second.changed, second.exposure_refreshed) == (0, [], 0)
    finally:
        await conn.close()
