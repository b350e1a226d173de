"""The set-based SQL path agrees with the pure model; regrades write only what changed."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import timedelta

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import codes
from api.grading import engine, gb18218, loader, model, store
from api.grading import statements as sqlstatements
from api.grading.model import grade
from api.grading.params import Params, default_params
from api.settings import Settings
from tests.support.grading_cases import (
    APART_EVENTS,
    AS_OF,
    EXAMPLE_A2_EVENTS,
    EXAMPLE_A_EVENTS,
    EXAMPLE_A_UNIT,
    EXAMPLE_B_EVENTS,
    EXAMPLE_B_UNIT,
    events,
    params_with_k4,
    units,
)
from tests.support.grading_db import write_citywide_period, write_noise, write_unit

P = default_params()

Case = tuple[model.Unit, model.Events, str | None]


async def _check_cases(
    conn: asyncpg.Connection,
    cases: list[Case],
    citywide: list[model.SpecialPeriod],
    params: Params = P,
) -> None:
    """Write the cases, grade them both ways (all units, then the subset), compare; roll back."""
    tr = conn.transaction()
    await tr.start()
    try:
        for period in citywide:
            await write_citywide_period(conn, period)
        await write_noise(conn)
        ids: dict[int, tuple[str, model.Unit, model.Events, str | None]] = {}
        for i, (unit, ev, prev) in enumerate(cases):
            code = f"u{i}"
            uid = await write_unit(conn, code, unit, ev, 108.5 + 0.1 * i, 34.2, prev)
            ids[uid] = (code, unit, ev.plus(model.Events(special_periods=tuple(citywide))), prev)
        explained: list[int] = []
        want: dict[int, object] = {}
        rows_all = {r["id"]: r for r in await engine.score_only(conn, params, AS_OF)}
        rows_some = {r["id"]: r for r in await engine.score_only(conn, params, AS_OF, list(ids))}
        loaded = await loader.load_units(conn, list(ids), AS_OF, params)
        for uid, (code, unit, ev, prev) in ids.items():
            expected = grade(unit, ev, AS_OF, params, previous=prev)
            for rows in (rows_all, rows_some):
                row = rows[uid]
                got = (row["level"], row["r"], row["r0"], row["sum_k"])
                assert got == (expected.level, expected.r, expected.now.r0, expected.now.sum_k), (
                    code, got, expected.to_json())  # fmt: skip
                assert row["score_rank"] - 1 == model.LEVEL_RANK[expected.now.score_level]
            # the loader reads back exactly what was written
            hs = (f"{code}-hs",) if unit.gb18218_grade is not None else ()
            mine = replace(unit, code=code, hazard_sources=hs)
            via_store = grade(loaded[uid].unit, loaded[uid].model_events(), AS_OF, params, prev)
            assert via_store.to_json() == grade(mine, ev, AS_OF, params, prev).to_json()
            if via_store.hysteresis is None:  # explain.sql's units: its JSON is the model's
                explained.append(uid)
                want[uid] = json.loads(json.dumps(via_store.to_json(), ensure_ascii=False))
        # the facts explain.sql gathers, rendered as grade_history's readers see them
        got_all = await conn.fetch(
            "SELECT x.id, x.prev, onemap_render_explanation(x.facts)::jsonb::text AS explanation "
            f"FROM ({sqlstatements.explain()}) x",
            json.dumps(params.to_json()), AS_OF, AS_OF.isoformat(),
            params.version, explained, [ids[u][3] for u in explained],
        )  # fmt: skip
        assert sorted(r["id"] for r in got_all) == sorted(explained)
        for r in got_all:
            assert json.loads(r["explanation"]) == want[r["id"]], ids[r["id"]][0]
            # the column grade_history.from_level is written from (not parsed out of the JSON)
            assert r["prev"] == want[r["id"]]["previous_level"]  # type: ignore[index]
    finally:
        await tr.rollback()


def _run_with_conn(settings_: Settings, body) -> None:  # type: ignore[no-untyped-def]
    """Run body(loop, conn) with one connection for all hypothesis examples."""
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(asyncpg.connect(settings_.database_url))
    try:
        body(loop, conn)
    finally:
        loop.run_until_complete(conn.close())
        loop.close()


def test_sql_agrees_with_the_model_on_worked_examples(empty_db: Settings) -> None:
    """Examples A (both stages) and B, and every band edge, graded in SQL."""

    def body(loop: asyncio.AbstractEventLoop, conn: asyncpg.Connection) -> None:
        for case in (
            (EXAMPLE_A_UNIT, EXAMPLE_A_EVENTS, None),
            (EXAMPLE_A_UNIT, EXAMPLE_A2_EVENTS, "general"),
            (replace(EXAMPLE_B_UNIT, vulnerable_sites=()), EXAMPLE_B_EVENTS, None),
            # floors that never overlapped in the window hold large, not F5's major
            (model.Unit("gas", "low", None, "compliant", 0), APART_EVENTS, "major"),
        ):
            loop.run_until_complete(_check_cases(conn, [case], []))
        edges = [
            ("0.198", model.Unit("gas", None, 1, "compliant", 0)),
            ("0.2", model.Unit("gas", None, 1, "compliant", 0)),
            ("0.199", model.Unit("gas", None, 1, "compliant", 1000)),
            ("0.2", model.Unit("gas", None, 1, "compliant", 1000)),
            ("0.249375", model.Unit("gas", "large", None, "compliant", 15000)),
            ("0.25", model.Unit("gas", "large", None, "compliant", 15000)),
        ]
        for k4, unit in edges:
            ev = model.Events(alarms=(model.Alarm("edge", "edge-p", 4, AS_OF),))
            loop.run_until_complete(_check_cases(conn, [(unit, ev, None)], [], params_with_k4(k4)))

    _run_with_conn(empty_db, body)


@st.composite
def cases(draw: st.DrawFn) -> tuple[list[Case], list[model.SpecialPeriod]]:
    """1-3 units with their events and previous levels, and citywide periods."""
    out: list[Case] = []
    for i in range(draw(st.integers(1, 3))):
        prev = draw(st.one_of(st.none(), st.sampled_from(codes.LEVELS)))
        out.append((draw(units()), draw(events(prefix=f"u{i}-")), prev))
    citywide = []
    for j in range(draw(st.integers(0, 1))):
        start = AS_OF - timedelta(hours=draw(st.integers(-2, 72)))
        citywide.append(
            model.SpecialPeriod(
                f"city{j}", start, start + timedelta(hours=draw(st.integers(1, 48)))
            )
        )
    return out, citywide


def test_sql_agrees_with_the_model_on_random_cases(empty_db: Settings) -> None:
    """Hypothesis: random units and events, written to PostGIS and graded both ways."""

    def body(loop: asyncio.AbstractEventLoop, conn: asyncpg.Connection) -> None:
        @settings(
            max_examples=120,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        )
        @given(case=cases())  # fmt: skip
        def check(case: tuple[list[Case], list[model.SpecialPeriod]]) -> None:
            loop.run_until_complete(_check_cases(conn, case[0], case[1]))

        check()

    _run_with_conn(empty_db, body)


async def test_gb18218_grade_from_substances_sets_h(db_conn: asyncpg.Connection) -> None:
    """The store's trigger grades a depot from its substances; H follows in both paths."""
    await store.ensure_default(db_conn)
    uid = await db_conn.fetchval(
        "INSERT INTO risk_units (code, name, category, registered_level, control_level, geom) "
        "VALUES ('B', 'depot', 'hazardous_chemicals', 'general', 'grade2', "
        "'SRID=4326;POINT(108.9 34.3)') RETURNING id"
    )
    hs = await db_conn.fetchval(
        "INSERT INTO hazard_sources (code, name, risk_unit_id, people_within_500m, geom) "
        "VALUES ('B-hs', 'tank farm', $1, 150, 'SRID=4326;POINT(108.9 34.3)') RETURNING id",
        uid,
    )
    for name, q in (("氯", 20.0), ("甲醇", 800.0)):
        line = gb18218.line_for(gb18218.Holding(name, q))
        await db_conn.execute(
            "INSERT INTO hazard_substances (hazard_source_id, substance, q_tonnes, "
            "threshold_tonnes, beta) VALUES ($1, $2, $3, $4, $5)",
            hs, name, q, line.threshold_tonnes, line.beta,
        )  # fmt: skip
    row = await db_conn.fetchrow("SELECT r_value, gb_grade FROM hazard_sources WHERE id = $1", hs)
    assert abs(row["r_value"] - 35.2) < 1e-9 and row["gb_grade"] == 3
    (res,) = await engine.score_only(db_conn, P, AS_OF, [uid])
    assert res["h"] == 4
    loaded = await loader.load_units(db_conn, [uid], AS_OF, P)
    g = grade(loaded[uid].unit, loaded[uid].model_events(), AS_OF, P)
    assert (g.now.h, g.to_json()["h"]["hazard_sources"]) == (4, ["B-hs"])


async def test_exposure_is_measured_in_postgis_and_cached(db_conn: asyncpg.Connection) -> None:
    """Population within 500 m (area-weighted cells) and vulnerable sites; refreshed on change."""
    await store.ensure_default(db_conn)
    await db_conn.execute(
        """
        INSERT INTO risk_units (code, name, category, geom) VALUES
            ('U', 'u', 'gas', 'SRID=4326;POINT(108.9 34.2)');
        -- a cell well inside the radius, one half inside (its west half), one far away
        INSERT INTO population_cells (code, name, population, geom) VALUES
          ('in', 'in', 6000, ST_Multi(ST_MakeEnvelope(108.899, 34.199, 108.901, 34.201, 4326))),
          ('half', 'half', 4000, ST_Multi(ST_MakeEnvelope(108.9, 34.19, 108.92, 34.21, 4326))),
          ('far', 'far', 9999, ST_Multi(ST_MakeEnvelope(109.549, 34.549, 109.551, 34.551, 4326)));
        INSERT INTO vulnerable_sites (code, name, kind, geom) VALUES
          ('school-near', 's', 'school', 'SRID=4326;POINT(108.9 34.204)'),
          ('school-far', 's', 'school', 'SRID=4326;POINT(108.9 34.206)');
        """
    )
    assert await engine.refresh_exposure(db_conn, P) == 1
    row = await db_conn.fetchrow("SELECT * FROM risk_unit_exposure")
    # 6000 + 4000 x (share of the half cell's area inside the 500 m buffer)
    share = await db_conn.fetchval(
        "SELECT ST_Area(ST_Intersection(c.geom, ST_Buffer('SRID=4326;POINT(108.9 34.2)'"
        "::geography, 500)::geometry)) / ST_Area(c.geom) FROM population_cells c "
        "WHERE code = 'half'"
    )
    assert 0.05 < share < 0.2
    assert row["population"] == round(6000 + 4000 * share)
    # 0.004° of latitude is ~444 m, 0.006° ~666 m
    assert (row["vulnerable_site"], row["vulnerable_sites"]) == (True, ["school-near"])
    assert await engine.refresh_exposure(db_conn, P) == 0  # cached
    await db_conn.execute("UPDATE population_cells SET population = 7000 WHERE code = 'in'")
    assert await engine.refresh_exposure(db_conn, P) == 1  # the layer changed
    assert await db_conn.fetchval("SELECT population FROM risk_unit_exposure") == round(
        7000 + 4000 * share
    )
    await db_conn.execute("UPDATE risk_units SET geom = 'SRID=4326;POINT(109.55 34.55)'")
    assert await engine.refresh_exposure(db_conn, P) == 1  # the unit moved
    row = await db_conn.fetchrow("SELECT population, vulnerable_site FROM risk_unit_exposure")
    assert (row["population"], row["vulnerable_site"]) == (9999, False)


async def test_regrade_writes_only_changes_and_records_history(db_conn: asyncpg.Connection) -> None:
    """A full regrade writes changed units only; each level change is in grade_history."""
    await store.ensure_default(db_conn)
    stamp = await engine.exposure_stamp(db_conn, P)  # keep the examples' exposure
    a = await write_unit(db_conn, "A", EXAMPLE_A_UNIT, EXAMPLE_A_EVENTS, 108.9, 34.2, stamp=stamp)
    b = await write_unit(db_conn, "B", replace(EXAMPLE_B_UNIT, vulnerable_sites=()),
                         EXAMPLE_B_EVENTS, 109.0, 34.2, stamp=stamp)  # fmt: skip
    version = await db_conn.fetchval("SELECT version FROM layer_versions WHERE layer='risk_units'")
    res = await engine.regrade(db_conn, P, AS_OF, trigger="test")
    assert sorted((c["code"], c["from"], c["to"], c["r"]) for c in res.changed) == [
        ("A", None, "general", 11.25), ("B", None, "major", 28.8)]  # fmt: skip
    assert (res.units, res.written, res.mismatches) == (2, 2, 0)
    hist = await db_conn.fetch("SELECT * FROM grade_history ORDER BY risk_unit_id")
    assert [(h["risk_unit_id"], h["to_level"], h["param_version"]) for h in hist] == [
        (a, "general", 1), (b, "major", 1)]  # fmt: skip
    explanation = json.loads(await db_conn.fetchval(
        "SELECT onemap_explanation(h)::text FROM grade_history h WHERE id = $1", hist[0]["id"]
    ))  # fmt: skip
    assert explanation["formula"]["r"] == "R = R0 × (1 + min(1, Σk)) = 9 × (1 + 0.25) = 11.25"
    assert explanation["unit"]["code"] == "A" and explanation["as_of"] == AS_OF.isoformat()
    bumped = await db_conn.fetchval("SELECT version FROM layer_versions WHERE layer='risk_units'")
    assert bumped == version + 1
    # nothing changed: nothing written, no version bump, no history
    again = await engine.regrade(db_conn, P, AS_OF, trigger="test")
    assert (again.written, again.changed) == (0, [])
    assert await db_conn.fetchval(
        "SELECT version FROM layer_versions WHERE layer='risk_units'") == bumped  # fmt: skip
    runs = await db_conn.fetch("SELECT kind, units, changed FROM grading_runs ORDER BY id")
    assert [(r["kind"], r["units"], r["changed"]) for r in runs] == [("full", 2, 2), ("full", 2, 0)]


async def test_first_grading_writes_in_place(db_conn: asyncpg.Connection) -> None:
    """The regrade's UPDATE of risk_units is HOT (no index covers the grade columns, the
    page has room: migration 0034); the explanations are stored as their facts (migration
    0035), rendered on read; the model's JSON ones are compressed with LZ4."""
    await store.ensure_default(db_conn)
    stamp = await engine.exposure_stamp(db_conn, P)
    await write_unit(db_conn, "A", EXAMPLE_A_UNIT, EXAMPLE_A_EVENTS, 108.9, 34.2, stamp=stamp)
    await write_unit(db_conn, "B", replace(EXAMPLE_B_UNIT, vulnerable_sites=()),
                     EXAMPLE_B_EVENTS, 109.0, 34.2, stamp=stamp)  # fmt: skip
    counts = (
        "SELECT pg_stat_get_xact_tuples_updated('risk_units'::regclass) AS updated, "
        "pg_stat_get_xact_tuples_hot_updated('risk_units'::regclass) AS hot"
    )
    before = await db_conn.fetchrow(counts)
    res = await engine.regrade(db_conn, P, AS_OF, trigger="test")
    after = await db_conn.fetchrow(counts)
    assert (res.written, len(res.changed)) == (2, 2)
    assert after["updated"] - before["updated"] == 2
    assert after["hot"] - before["hot"] == 2
    stored = await db_conn.fetch(
        "SELECT h.explanation IS NULL AS facts_only, (h.facts).code, (h.facts).decided_by, "
        "onemap_explanation(h) ->> 'level' AS level FROM grade_history h ORDER BY id"
    )
    assert [tuple(r) for r in stored] == [(True, "A", "score", "general"),
                                          (True, "B", "score", "major")]  # fmt: skip
    assert await db_conn.fetchval(
        "SELECT attcompression::text FROM pg_attribute WHERE attrelid = 'grade_history'::regclass "
        "AND attname = 'explanation'") == "l"  # fmt: skip


_VERSIONS = (
    "SELECT code, version, actor, actor_kind, via, op, data::text, diff::text, compact "
    "FROM feature_history WHERE layer = 'risk_units' AND version > 1 ORDER BY code, version"
)


async def test_regrade_versions_are_the_history_triggers(db_conn: asyncpg.Connection) -> None:
    """The compact versions a regrade writes itself (versions.sql: the first grading, then
    a regrade after an event) are, row for row, what the history trigger writes for the
    same UPDATE of the computed columns; the trigger stays out of the regrade's statements
    and versions any other writer's (migration 0036)."""
    await store.ensure_default(db_conn)
    stamp = await engine.exposure_stamp(db_conn, P)
    await write_unit(db_conn, "A", EXAMPLE_A_UNIT, EXAMPLE_A_EVENTS, 108.9, 34.2, stamp=stamp)
    await write_unit(db_conn, "B", replace(EXAMPLE_B_UNIT, vulnerable_sites=()),
                     EXAMPLE_B_EVENTS, 109.0, 34.2, stamp=stamp)  # fmt: skip
    later = AS_OF + timedelta(hours=1)

    async def by_engine() -> list[tuple[object, ...]]:
        await engine.regrade(db_conn, P, AS_OF, trigger="test")  # first.sql
        await db_conn.execute(  # R moves (Example A's alarm ends), apply.sql writes it
            "UPDATE alarms SET ended_at = $1, end_reason = 'normal' WHERE ended_at IS NULL",
            AS_OF + timedelta(minutes=30))  # fmt: skip
        res = await engine.regrade(db_conn, P, later, trigger="test")
        assert res.written >= 1
        return [tuple(r) for r in await db_conn.fetch(_VERSIONS)]

    async def by_trigger(grades: list[asyncpg.Record]) -> list[tuple[object, ...]]:
        for g in grades:  # the same UPDATEs, the trigger versioning them
            await db_conn.execute(
                "SET LOCAL onemap.via = 'grading'; UPDATE risk_units SET current_level = "
                f"'{g['to']}', current_r = {g['r']}, level_changed_at = '{g['at']}' "
                f"WHERE code = '{g['code']}'")  # fmt: skip
        return [tuple(r) for r in await db_conn.fetch(_VERSIONS)]

    tr = db_conn.transaction()
    await tr.start()
    try:
        engine_rows = await by_engine()
        grades = await db_conn.fetch(
            "SELECT code, (data ->> 'current_level') AS to, (data ->> 'current_r') AS r, "
            "(data ->> 'level_changed_at') AS at FROM feature_history "
            "WHERE layer = 'risk_units' AND version > 1 ORDER BY version, code"
        )
    finally:
        await tr.rollback()
    assert len(engine_rows) == len(grades) >= 3  # two first grades, then an R change
    assert all(r[4] == "grading" and r[8] for r in engine_rows)
    tr = db_conn.transaction()
    await tr.start()
    try:
        assert await by_trigger(grades) == engine_rows
        # any other statement is versioned by the trigger: a name edit is a full version
        await db_conn.execute(
            "SET LOCAL onemap.via = 'edit'; UPDATE risk_units SET name = 'renamed' WHERE code = 'A'"
        )
        last = await db_conn.fetchrow(
            "SELECT via, compact, diff ->> 'name' AS d FROM feature_history "
            "WHERE code = 'A' ORDER BY version DESC LIMIT 1")  # fmt: skip
        assert (last["via"], last["compact"]) == ("edit", False) and "renamed" in last["d"]
    finally:
        await tr.rollback()


async def test_incremental_regrade_holds_a_downgrade_24_hours(db_conn: asyncpg.Connection) -> None:
    """Example A escalated (large); the alarms end; large is held 24 h, then general."""
    await store.ensure_default(db_conn)
    stamp = await engine.exposure_stamp(db_conn, P)
    a = await write_unit(db_conn, "A", EXAMPLE_A_UNIT, EXAMPLE_A2_EVENTS, 108.9, 34.2, stamp=stamp)
    first = await engine.regrade(db_conn, P, AS_OF, [a], trigger="test")
    assert [(c["from"], c["to"], c["r"]) for c in first.changed] == [(None, "large", 13.5)]
    assert (
        first.kind == "units" and await db_conn.fetchval("SELECT count(*) FROM grading_runs") == 0
    )
    ended = AS_OF + timedelta(minutes=1)
    await db_conn.execute(
        "UPDATE alarms SET ended_at = $1, end_reason = 'normal' WHERE ended_at IS NULL", ended
    )
    held = await engine.regrade(db_conn, P, ended + timedelta(hours=23), [a])
    assert held.changed == [] and held.written == 1  # R fell to 9.45, the level is held
    row = await db_conn.fetchrow("SELECT current_level, current_r FROM risk_units WHERE id=$1", a)
    assert (row["current_level"], row["current_r"]) == ("large", 9.45)
    cleared = await engine.regrade(db_conn, P, ended + timedelta(hours=24), [a])
    assert [(c["from"], c["to"]) for c in cleared.changed] == [("large", "general")]
    hist = await db_conn.fetch(
        "SELECT onemap_explanation(h)::text AS x FROM grade_history h ORDER BY id"
    )
    last = json.loads(hist[-1]["x"])
    assert (last["previous_level"], last["change"], last["decided_by"]) == (
        "large", "down", "score")  # fmt: skip
    assert last["hysteresis"] == {"held": False, "would_be": "general", "hours": 24.0,
                                  "clear_at": None}  # fmt: skip
