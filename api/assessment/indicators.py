"""Live indicators: what the store itself says about the assessment's items, with the numbers.

Each indicator is one SQL file (api/assessment/sql/<key>.sql, bound parameters) returning
`numerator`, `denominator`, `value` and `records`, or, for the fire brigades' reach, the
routing engine's coverage. An indicator names the framework item it informs; it costs points
only where the item's rule (from the published 评分标准) says how (see the framework's
`rule.parts[].auto`); where the criterion or its deduction was not found the numbers are
shown with `points_lost: null`, never scored by an invented rule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg

from api.sqlfiles import load

XIZE = "http://xmjiuan.com/viewnews.asp?cid=11&mtp=2&nid=947"
DRAFT = "http://www.neoboda.com/news_details.aspx?id=404"
ISSUE18 = "geodata/area_statistics.csv (issue 18)"
#: 评价与管理办法 第八条(五) names the emergency section's plans, depot reserves and rescue teams
BANFA = "http://m.jianbiaoku.com/webarbs/book/172109/4863089.shtml"


@dataclass(frozen=True, slots=True)
class Indicator:
    """One measure of the store: what it counts, the item it informs, its target and map."""

    key: str
    name: str
    item: str | None  # the framework item it informs (None: that item's text was not found)
    unit: str
    threshold: str | None  # the target, where a text gives one
    threshold_source: str | None
    map: str  # the map filtered to the records behind it ({year}, {today}, {cut} filled in)
    #: measured on an area's ground too (a district's, zone's or town's share), not city-wide only
    areal: bool = False
    #: the records key counting the findings a per-finding rule deducts for (None: not such)
    findings: str | None = None


INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        "old_pipe_renewal",
        "供水、供热和燃气老旧管网改造率",
        "1.2.4",
        "km",
        "0.8",
        f"细则 (4) 市政安全设施 “老旧管网改造率>80%” {XIZE}",
        "/?layer=lifelines&kind.in=water,heat,gas&laid_year.lte={cut}",
        areal=True,
    ),
    Indicator(
        "hydrants_intact",
        "市政消火栓（消防水鹤）完好率（监测点）",
        "1.2.4",
        "ratio of hydrants",
        "1",
        f"细则 (4) 市政安全设施 “市政消火栓（消防水鹤）完好率100%” {XIZE}",
        "/?layer=monitoring_points&kind=fire_hydrant_pressure",
        areal=True,
        findings="not_intact",
    ),
    Indicator(
        "fire_reach_5min",
        "消防队5分钟到达辖区边缘（居民覆盖）",
        "1.2.5",
        "ratio of residents",
        "1",
        f"细则 (5) 消防站 “5分钟内消防队到达辖区边缘” {XIZE}",
        "/?layer=rescue_teams&speciality=消防救援",
    ),
    Indicator(
        "major_hazard_monitoring",
        "危险化学品重大危险源监控安装率",
        "2.4.11",
        "ratio of sources",
        "1",
        f"细则 (11) “重大危险源的企业视频和安全监控系统安装率…100%” {XIZE}",
        "/?layer=hazard_sources",
    ),
    Indicator(
        "lifeline_monitoring_crowded",
        "人员密集区域供水、供热和燃气管网监测覆盖率",
        "1.2.4",
        "km",
        "0.8",
        f"细则征求意见稿 (4) “人员密集区域…管网监测监控设备安装率>80%” {DRAFT} "
        "(the 2019 final text of this bullet was not found)",
        "/?layer=lifelines&kind.in=water,heat,gas",
    ),
    Indicator(
        "hazards_on_time",
        "隐患按期整改率（未逾期占比）",
        None,
        "ratio of hazards",
        None,
        None,
        "/?layer=hidden_hazards&status.in=reported,assigned,rectifying&due_date.lt={today}",
    ),
    Indicator(
        "rescue_strength",
        "专业救援队伍人数（每万人）",
        "5",
        "members per 10,000 residents",
        None,
        None,
        "/?layer=rescue_teams&kind=professional",
    ),
    Indicator(
        "depots_per_level",
        "区县级应急物资储备库覆盖率",
        "5",
        "ratio of districts",
        None,
        None,
        "/?layer=reserve_depots&level=district",
    ),
    Indicator(
        "shelter_area",
        "人均应急避难场所面积",
        None,
        "m2 per resident",
        None,
        None,
        "/?layer=shelters",
    ),
    Indicator(
        "broadcast_coverage",
        "村（社区）应急广播覆盖率",
        None,
        "ratio of villages",
        None,
        ISSUE18,
        "/?layer=broadcasts",
    ),
    Indicator(
        "town_plan_coverage",
        "镇街应急预案覆盖率",
        "5",
        "ratio of towns",
        None,
        ISSUE18,
        "/?layer=districts",
    ),
    Indicator(
        "village_drills",
        "村（社区）应急演练（每村次数）",
        "5",
        "drills per village",
        None,
        ISSUE18,
        "/?layer=districts",
    ),
    Indicator(
        "town_shelter_coverage",
        "镇街避难场所覆盖率",
        None,
        "ratio of towns",
        None,
        ISSUE18,
        "/?layer=shelters",
    ),
)
BY_KEY = {i.key: i for i in INDICATORS}
#: why an indicator is placed under an item whose criterion was not found
ITEM_SOURCES = {
    k: f"评价与管理办法 第八条（五）应急救援: 应急预案体系、应急物资储备调用机制、救援队伍 {BANFA}"
    for k in ("rescue_strength", "depots_per_level", "town_plan_coverage", "village_drills")
}

#: the fire brigades: rescue teams of this speciality are the stations the reach starts from
FIRE = "消防救援"
FIRE_MINUTES = 5
FIRE_MAX_SNAP_M = 1000.0


def dec(d: Decimal | int | float | None) -> str | None:
    """A number as the scorecard writes it (plain decimal notation, no exponent)."""
    if d is None:
        return None
    text = format(Decimal(str(d)).normalize(), "f")
    return "0" if text in ("-0", "") else text


#: the fire reach per database and inputs: (db, roads build, stations, population) -> numbers
_FIRE_CACHE: dict[tuple[str, ...], dict[str, Any]] = {}


async def _fire_reach(conn: asyncpg.Connection) -> dict[str, Any]:
    """Residents within 5 minutes of a fire rescue station (the routing engine's coverage),
    computed again only when the road network's build, the stations or the population change."""
    key_row = await conn.fetchrow(
        "SELECT current_database() AS db, "
        "(SELECT updated_at::text FROM onemap_meta WHERE key = 'roads') AS roads, "
        "(SELECT md5(coalesce(string_agg(code || ST_AsText(geom), ',' ORDER BY code), '')) "
        " FROM rescue_teams WHERE speciality = $1) AS stations, "
        "(SELECT count(*)::text || '/' || coalesce(sum(population), 0)::text "
        " FROM population_cells) AS people",
        FIRE,
    )
    key = tuple(str(v) for v in key_row.values())
    if key not in _FIRE_CACHE:
        _FIRE_CACHE.clear()
        _FIRE_CACHE[key] = await _fire_reach_now(conn)
    return _FIRE_CACHE[key]


async def _fire_reach_now(conn: asyncpg.Connection) -> dict[str, Any]:
    """The fire reach computed (seconds on the demo city: the routing engine's coverage)."""
    from api.routing import engine  # the routing package is heavy; load it on first use

    rows = await conn.fetch(
        "SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat FROM rescue_teams WHERE speciality = $1 "
        "ORDER BY code",
        FIRE,
    )
    if not rows or not await conn.fetchval("SELECT EXISTS (SELECT 1 FROM roads)"):
        return {
            "numerator": Decimal(0),
            "denominator": Decimal(0),
            "value": None,
            "records": {"stations": len(rows), "districts_short": []},
        }
    cov = await engine.coverage(
        conn, [(r["lon"], r["lat"]) for r in rows], [FIRE_MINUTES], max_snap_m=FIRE_MAX_SNAP_M
    )
    city = cov["city"][0]
    reached, short = Decimal(city["population_reached"]), Decimal(city["population_not_reached"])
    total = reached + short
    shortfall = sorted(
        d["code"]
        for d in cov["districts"] or []
        if d["coverage"] and d["coverage"][0]["population_not_reached"] > 0
    )
    return {
        "numerator": reached,
        "denominator": total,
        "value": (reached / total).quantize(Decimal("0.0001")) if total else None,
        "records": {
            "stations": len(rows),
            "off_network": cov["sources_off_network"],
            "districts_short": shortfall,
        },
    }


def _obj(value: Any) -> dict[str, Any]:
    """A jsonb value as a dict (decoded by the pool's codec, or text on a bare connection)."""
    return dict(json.loads(value) if isinstance(value, str) else value)


async def _sql(
    conn: asyncpg.Connection, key: str, year: int, as_of: datetime, area: str | None
) -> dict[str, Any]:
    """The numbers of a SQL indicator (on `area`'s ground when given: areal indicators only)."""
    if key == "old_pipe_renewal":
        row = await conn.fetchrow(load("assessment/sql/old_pipe_renewal.sql"), year, area)
        return {
            "numerator": row["renewed_km"],
            "denominator": row["total_km"],
            "value": row["ratio"],
            "records": {"old": row["old_count"], "unknown_age": row["unknown_age"]},
        }
    text = load(f"assessment/sql/{key}.sql")
    if BY_KEY[key].areal:
        args: tuple[Any, ...] = (as_of, area)
    else:
        args = (year, as_of) if "$2" in text else (year,) if "$1" in text else ()
    row = await conn.fetchrow(text, *args)
    return {
        "numerator": row["numerator"],
        "denominator": row["denominator"],
        "value": row["value"],
        "records": _obj(row["records"]),
    }


async def measure(
    conn: asyncpg.Connection, key: str, year: int, as_of: datetime, area: str | None = None
) -> dict[str, Any]:
    """One indicator's basis: numerator, denominator, value, threshold, records and map link
    (and `findings` where a per-finding rule counts them); on `area`'s ground when given."""
    ind = BY_KEY[key]
    if area is not None and not ind.areal:
        raise ValueError(f"indicator {key} is measured city-wide only")
    raw = (
        await _fire_reach(conn)
        if key == "fire_reach_5min"
        else await _sql(conn, key, year, as_of, area)
    )
    records = dict(raw["records"])
    link = ind.map.format(cut=year - 30, today=as_of.date().isoformat())
    if records.get("codes"):  # the map shows just the records found wanting
        link += "&code.in=" + ",".join(records["codes"])
    records["map"] = link
    out = {
        "indicator": key,
        "numerator": dec(raw["numerator"]),
        "denominator": dec(raw["denominator"]),
        "value": dec(raw["value"]),
        "threshold": ind.threshold,
        "unit": ind.unit,
        "records": records,
    }
    if ind.findings is not None:
        out["findings"] = dec(records[ind.findings])
    return out


async def all_indicators(conn: asyncpg.Connection, year: int, as_of: datetime) -> dict[str, Any]:
    """Every indicator with its numbers, the item it informs and where its target comes from."""
    out = []
    for ind in INDICATORS:
        basis = await measure(conn, ind.key, year, as_of)
        out.append(
            {
                "key": ind.key,
                "name": ind.name,
                "item": ind.item,
                "threshold_source": ind.threshold_source,
                "item_source": ITEM_SOURCES.get(ind.key),
                **basis,
            }
        )
    return {"year": year, "as_of": as_of.isoformat(), "indicators": out}
