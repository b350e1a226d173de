"""api.grading.loader: read units and their events from the store as the pure model's inputs.

The same selections as the set-based SQL (api/grading/sql/score.sql), record by
record: every event active at some time in the hysteresis window
[as_of - hours, as_of], so `model.grade` can grade `as_of` and the window.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from api.grading import model
from api.grading.params import Params


@dataclass(slots=True)
class Loaded:
    """One unit as the model sees it, with its stored level."""

    id: int
    unit: model.Unit
    current_level: str | None
    events: dict[str, list] = field(default_factory=lambda: defaultdict(list))

    def model_events(self) -> model.Events:
        """The events as the model's input."""
        e = self.events
        return model.Events(
            tuple(e["alarms"]),
            tuple(e["offline_points"]),
            tuple(e["hidden_hazards"]),
            tuple(e["weather_warnings"]),
            tuple(e["special_periods"]),
            tuple(e["accidents"]),
        )


_UNITS = """
SELECT ru.id, ru.code, ru.category, ru.registered_level, ru.control_level, ru.current_level,
       gb.grade AS gb_grade, coalesce(gb.codes, '{}') AS hazard_sources,
       ex.population, coalesce(ex.vulnerable_site, false) AS vulnerable_site,
       coalesce(ex.vulnerable_sites, '{}') AS vulnerable_sites
  FROM risk_units ru
  LEFT JOIN LATERAL (
       SELECT min(hs.gb_grade) AS grade, array_agg(hs.code ORDER BY hs.code) AS codes
         FROM hazard_sources hs
        WHERE hs.risk_unit_id = ru.id AND hs.gb_grade IS NOT NULL) gb ON true
  LEFT JOIN risk_unit_exposure ex ON ex.risk_unit_id = ru.id
 WHERE ru.id = ANY($1::bigint[])
"""

_ALARMS = """
SELECT a.risk_unit_id AS uid, a.code, mp.code AS point, a.level, a.started_at, a.ended_at,
       a.false_alarm_at IS NOT NULL AS false_alarm
  FROM alarms a JOIN monitoring_points mp ON mp.id = a.point_id
 WHERE a.risk_unit_id = ANY($1::bigint[]) AND a.started_at <= $2
   AND (a.ended_at IS NULL OR a.ended_at > $3)
"""

_OFFLINE = """
SELECT mp.risk_unit_id AS uid, mp.code AS point, o.started_at AS since, o.ended_at AS until,
       false AS never_reported
  FROM monitoring_offline_periods o JOIN monitoring_points mp ON mp.id = o.point_id
 WHERE mp.risk_unit_id = ANY($1::bigint[]) AND o.started_at <= $2 AND o.ended_at > $3
UNION ALL
SELECT mp.risk_unit_id, mp.code,
       s.last_reading_at + mp.expected_interval_s * interval '1 second', NULL,
       s.last_reading_at IS NULL
  FROM monitoring_points mp
  LEFT JOIN point_liveness l ON l.block = onemap_liveness_block(mp.id)
 CROSS JOIN LATERAL (SELECT onemap_last_reading(l.last_us, mp.id) AS last_reading_at) s
 WHERE mp.risk_unit_id = ANY($1::bigint[])
   AND coalesce(s.last_reading_at + mp.expected_interval_s * interval '1 second' <= $2, true)
"""

_HAZARDS = """
SELECT h.risk_unit_id AS uid, h.code, h.severity, h.due_date, h.status, h.reported_at,
       least(h.verified_at, h.closed_at) AS until
  FROM hidden_hazards h
 WHERE h.risk_unit_id = ANY($1::bigint[]) AND h.reported_at <= $2
   AND (least(h.verified_at, h.closed_at) IS NULL OR least(h.verified_at, h.closed_at) > $3)
"""

_WARNINGS = """
SELECT ru.id AS uid, w.code, w.type, w.colour, w.valid_from,
       least(w.valid_to, w.cancelled_at) AS until
  FROM weather_warnings w JOIN risk_units ru ON ST_Intersects(ru.geom, w.geom)
 WHERE ru.id = ANY($1::bigint[]) AND w.valid_from <= $2
   AND least(w.valid_to, w.cancelled_at) > $3
"""

_PERIODS = """
SELECT ru.id AS uid, s.code, s.starts_at, least(s.ends_at, s.cancelled_at) AS until
  FROM special_periods s
  JOIN risk_units ru ON s.geom IS NULL OR ST_Intersects(ru.geom, s.geom)
 WHERE ru.id = ANY($1::bigint[]) AND s.starts_at <= $2
   AND least(s.ends_at, s.cancelled_at) > $3
"""

_ACCIDENTS = """
SELECT a.risk_unit_id AS uid, a.code, a.grade, a.occurred_at
  FROM accidents a
 WHERE a.risk_unit_id = ANY($1::bigint[]) AND a.occurred_at <= $2
   AND a.occurred_at + $4::int * interval '86400 seconds' > $3
"""


async def load_units(
    conn: asyncpg.Connection, ids: Sequence[int], as_of: datetime, params: Params
) -> dict[int, Loaded]:
    """Units by id with every event the model needs to grade them at `as_of`."""
    ids = list(ids)
    t0 = as_of - timedelta(hours=float(params.hysteresis_hours))
    out: dict[int, Loaded] = {}
    for r in await conn.fetch(_UNITS, ids):
        unit = model.Unit(
            category=r["category"],
            registered_level=r["registered_level"],
            gb18218_grade=r["gb_grade"],
            control=r["control_level"],
            population_within_radius=r["population"],
            vulnerable_site_within_radius=r["vulnerable_site"],
            code=r["code"],
            hazard_sources=tuple(r["hazard_sources"]),
            vulnerable_sites=tuple(r["vulnerable_sites"]),
        )
        out[r["id"]] = Loaded(r["id"], unit, r["current_level"])
    for r in await conn.fetch(_ALARMS, ids, as_of, t0):
        out[r["uid"]].events["alarms"].append(
            model.Alarm(
                r["code"], r["point"], r["level"], r["started_at"], r["ended_at"], r["false_alarm"]
            )  # fmt: skip
        )
    for r in await conn.fetch(_OFFLINE, ids, as_of, t0):
        out[r["uid"]].events["offline_points"].append(
            model.OfflinePoint(r["point"], r["since"], r["until"], r["never_reported"])
        )
    for r in await conn.fetch(_HAZARDS, ids, as_of, t0):
        out[r["uid"]].events["hidden_hazards"].append(
            model.HiddenHazard(
                r["code"], r["severity"], r["due_date"], r["status"], r["reported_at"], r["until"]
            )  # fmt: skip
        )
    for r in await conn.fetch(_WARNINGS, ids, as_of, t0):
        out[r["uid"]].events["weather_warnings"].append(
            model.WeatherWarning(r["code"], r["type"], r["colour"], r["valid_from"], r["until"])
        )
    for r in await conn.fetch(_PERIODS, ids, as_of, t0):
        out[r["uid"]].events["special_periods"].append(
            model.SpecialPeriod(r["code"], r["starts_at"], r["until"])
        )
    for r in await conn.fetch(_ACCIDENTS, ids, as_of, t0, params.accident_window_days):
        out[r["uid"]].events["accidents"].append(
            model.Accident(r["code"], r["grade"], r["occurred_at"])
        )
    return out


async def unit_id(conn: asyncpg.Connection, code: str) -> int | None:
    """A risk unit's id by its code."""
    return await conn.fetchval("SELECT id FROM risk_units WHERE code = $1", code)
