"""tests.support.grading_db: write the model's inputs (units and events) into the store, row by
row."""

from __future__ import annotations

from datetime import timedelta

import asyncpg

from api.grading import model
from tests.support.grading_cases import AS_OF

FRESH = AS_OF + timedelta(days=1)  # a last reading after as_of: the point is online at as_of


def _box(lon: float, lat: float, d: float = 0.01) -> str:
    return (f"SRID=4326;MULTIPOLYGON((({lon - d} {lat - d},{lon + d} {lat - d},{lon + d} {lat + d},"
            f"{lon - d} {lat + d},{lon - d} {lat - d})))")  # fmt: skip


async def write_unit(
    conn: asyncpg.Connection,
    code: str,
    unit: model.Unit,
    events: model.Events,
    lon: float,
    lat: float,
    previous: str | None = None,
    stamp: str = "test",
) -> int:
    """Insert a unit at (lon, lat) with its exposure cache (stamped) and every event; its id."""
    point = f"SRID=4326;POINT({lon} {lat})"
    uid = await conn.fetchval(
        "INSERT INTO risk_units (code, name, category, registered_level, control_level, "
        "current_level, geom) VALUES ($1, $1, $2, $3, $4, $5, $6::geometry) RETURNING id",
        code, unit.category, unit.registered_level, unit.control, previous, point,
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO risk_unit_exposure (risk_unit_id, radius_m, population, vulnerable_site, "
        "stamp) VALUES ($1, 500, $2, $3, $4)",
        uid, unit.population_within_radius, unit.vulnerable_site_within_radius, stamp,
    )  # fmt: skip
    if unit.gb18218_grade is not None:
        hs = await conn.fetchval(
            "INSERT INTO hazard_sources (code, name, risk_unit_id, geom) "
            "VALUES ($1, $1, $2, $3::geometry) RETURNING id",
            f"{code}-hs", uid, point,
        )  # fmt: skip
        await conn.execute("UPDATE hazard_sources SET gb_grade = $2 WHERE id = $1",
                           hs, unit.gb18218_grade)  # fmt: skip
    points: dict[str, int] = {}

    async def point_id(name: str, last_reading: object = FRESH) -> int:
        if name not in points:
            points[name] = await conn.fetchval(
                "INSERT INTO monitoring_points (code, name, risk_unit_id, kind, domain, "
                "expected_interval_s, geom) VALUES ($1, $1, $2, 'gas', 'lifeline', 60, "
                "$3::geometry) RETURNING id",
                name, uid, point,
            )  # fmt: skip
            if last_reading is not None:
                await conn.execute("SELECT onemap_note_readings(ARRAY[$1::bigint], $2)",
                                   points[name], last_reading)  # fmt: skip
        return points[name]

    for a in events.alarms:
        pid = await point_id(a.point)
        await conn.execute(
            "INSERT INTO alarms (code, name, point_id, risk_unit_id, episode, level, started_at, "
            "ended_at, end_reason, false_alarm_at, geom) VALUES ($1, $1, $2, $3, $1, $4, $5, $6, "
            "CASE WHEN $6::timestamptz IS NOT NULL THEN 'normal' END, $7, $8::geometry)",
            a.id, pid, uid, a.level, a.since, a.until, a.since if a.false_alarm else None, point,
        )  # fmt: skip
    for o in events.offline_points:
        assert o.since is not None
        if o.until is None:  # the open gap: last reading one interval before `since`
            await point_id(o.point, o.since - timedelta(seconds=60))
        else:
            pid = await point_id(o.point)
            await conn.execute(
                "INSERT INTO monitoring_offline_periods (point_id, started_at, ended_at) "
                "VALUES ($1, $2, $3)",
                pid, o.since, o.until,
            )  # fmt: skip
    for h in events.hidden_hazards:
        assert h.since is not None
        await conn.execute(
            "INSERT INTO hidden_hazards (code, name, risk_unit_id, severity, status, reported_at, "
            "due_date, closed_at, geom) VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8::geometry)",
            h.id, uid, h.severity, "closed" if h.until else "reported", h.since, h.due, h.until,
            point,
        )  # fmt: skip
    for w in events.weather_warnings:
        await conn.execute(
            "INSERT INTO weather_warnings (code, name, type, colour, valid_from, valid_to, geom) "
            "VALUES ($1, $1, $2, $3, $4, $5, $6::geometry)",
            w.id, w.type, w.colour, w.since, w.until, _box(lon, lat),
        )  # fmt: skip
    for p in events.special_periods:
        await conn.execute(
            "INSERT INTO special_periods (code, name, starts_at, ends_at, geom) "
            "VALUES ($1, $1, $2, $3, $4::geometry)",
            p.id, p.since, p.until, _box(lon, lat),
        )  # fmt: skip
    for c in events.accidents:
        await conn.execute(
            "INSERT INTO accidents (code, name, risk_unit_id, grade, occurred_at, geom) "
            "VALUES ($1, $1, $2, $3, $4, $5::geometry)",
            c.id, uid, c.grade, c.at, point,
        )  # fmt: skip
    return uid


async def write_citywide_period(conn: asyncpg.Connection, period: model.SpecialPeriod) -> None:
    """A special period without a polygon (it covers every unit)."""
    await conn.execute(
        "INSERT INTO special_periods (code, name, starts_at, ends_at) VALUES ($1, $1, $2, $3)",
        period.id, period.since, period.until,
    )  # fmt: skip


async def write_noise(conn: asyncpg.Connection) -> None:
    """Events that touch no unit: a red warning far away, an accident of no unit."""
    await conn.execute(
        "INSERT INTO weather_warnings (code, name, type, colour, valid_from, valid_to, geom) "
        "VALUES ('far-away', 'far', 'heat', 'red', $1, $2, $3::geometry)",
        AS_OF - timedelta(days=1), AS_OF + timedelta(days=1), _box(100.0, 30.0),
    )  # fmt: skip
    await conn.execute(
        "INSERT INTO accidents (code, name, grade, occurred_at, geom) "
        "VALUES ('no-unit', 'x', 'major', $1, 'SRID=4326;POINT(100 30)')",
        AS_OF - timedelta(days=1),
    )  # fmt: skip


GAS_UNIT_SQL = """
INSERT INTO risk_units (code, name, category, registered_level, geom)
VALUES ('GAS1', 'regulator station', 'gas', 'low', 'SRID=4326;POINT(108.9 34.2)');
INSERT INTO monitoring_points (code, name, risk_unit_id, kind, domain, direction,
    threshold_l4, threshold_l3, threshold_l2, threshold_l1, expected_interval_s, geom)
SELECT 'CH4-1', 'methane 1', id, 'gas_concentration', 'lifeline', 'above',
       5, 10, 20, 50, 60, geom FROM risk_units
UNION ALL
SELECT 'P-1', 'pressure 1', id, 'gas_pipe_pressure', 'lifeline', 'below',
       0.30, 0.25, 0.20, 0.15, 300, geom FROM risk_units;
"""


async def seed_gas_unit(database_url: str) -> None:
    """One gas unit (registered low) with a methane point (above) and a pressure point (below)."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(GAS_UNIT_SQL)
    finally:
        await conn.close()
