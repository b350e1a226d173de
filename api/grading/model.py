"""api.grading.model: `grade(unit, events, as_of, params, previous)`, pure and deterministic.

The reference implementation of docs/grading-model.md (its inputs and outputs are the
records of api/grading/records.py). It never reads the clock: every
window is measured from `as_of`. Arithmetic is exact (`Decimal`), as in the
set-based SQL path (`numeric`), so both land on the same side of every band
edge. An event is *active in a window* [t0, t1] when it started at or before
t1 and had not ended by t0 (`since <= t1 and (until is None or until > t0)`);
"active at as_of" is the window [as_of, as_of]. Hysteresis looks back over
[as_of - 24 h, as_of]: a downgrade may go no lower than the highest level any
single moment of that window had (causes that never overlapped are never
added up). The level only rises when an event starts or a hidden hazard falls
overdue, so the moments to grade are the window's start and those instants.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from api.grading.params import COLOURS, LARGE_ACCIDENT_GRADES, LEVEL_RANK, Params
from api.grading.records import (
    COLOUR_ZH,
    Accident,
    Alarm,
    Assessment,
    Events,
    Factor,
    Floor,
    Grade,
    HiddenHazard,
    OfflinePoint,
    SpecialPeriod,
    Unit,
    WeatherWarning,
    iso,
    level_zh,
    num,
)

# the records are the model's vocabulary: `from api.grading.model import Unit` keeps working
__all__ = [
    "Accident", "Alarm", "Assessment", "Events", "Factor", "Floor", "Grade", "HiddenHazard",
    "OfflinePoint", "SpecialPeriod", "Unit", "WeatherWarning",
    "assess", "due_deadline", "grade", "grade_many", "higher", "level_of", "lower",
]  # fmt: skip

CLOSED_STATUSES = ("verified", "closed")
ZERO = Decimal(0)
ONE = Decimal(1)


# ---------------------------------------------------------------- the model


def level_of(r: Decimal, params: Params) -> str:
    """The score level of R (lower band edges inclusive)."""
    b = params.bands
    if r >= b.major:
        return "major"
    if r >= b.large:
        return "large"
    if r >= b.general:
        return "general"
    return "low"


def higher(a: str, b: str) -> str:
    """The higher of two levels."""
    return a if LEVEL_RANK[a] >= LEVEL_RANK[b] else b


def lower(a: str, b: str) -> str:
    """The lower of two levels."""
    return a if LEVEL_RANK[a] <= LEVEL_RANK[b] else b


def due_deadline(due: date, params: Params) -> datetime:
    """The instant a hidden hazard due on `due` becomes overdue (the end of that day, local)."""
    return datetime.combine(due + timedelta(days=1), time(0), tzinfo=ZoneInfo(params.timezone))


def _active(since: datetime | None, until: datetime | None, t0: datetime, t1: datetime) -> bool:
    return (since is None or since <= t1) and (until is None or until > t0)


def _hazard(unit: Unit, params: Params, flags: list[dict[str, Any]]) -> tuple[Decimal, dict]:
    hz = params.hazard
    info: dict[str, Any] = {
        "gb18218_grade": unit.gb18218_grade,
        "registered_level": unit.registered_level,
    }
    if unit.hazard_sources:
        info["hazard_sources"] = list(unit.hazard_sources)
    if unit.gb18218_grade is not None:
        return hz.gb18218[str(unit.gb18218_grade)], {**info, "basis": "gb18218"}
    if unit.registered_level is not None:
        return hz.registered[unit.registered_level], {**info, "basis": "registered_level"}
    flags.append({"code": "hazard_unassessed", "detail": f"H assumed {num(hz.unassessed)}"})
    return hz.unassessed, {**info, "basis": "unassessed"}


def _exposure(unit: Unit, params: Params, flags: list[dict[str, Any]]) -> tuple[Decimal, dict]:
    ex = params.exposure
    info: dict[str, Any] = {
        "radius_m": float(ex.radius_m),
        "population_within_radius": unit.population_within_radius,
        "vulnerable_site_within_radius": unit.vulnerable_site_within_radius,
    }
    if unit.vulnerable_sites:
        info["vulnerable_sites"] = list(unit.vulnerable_sites)
    if unit.population_within_radius is None:
        base = ex.unknown_population
        flags.append({"code": "population_unknown", "detail": f"E assumed {num(base)}"})
    else:
        base = ex.population_bands[0][1]
        for edge, value in ex.population_bands:
            if unit.population_within_radius >= edge:
                base = value
    bonus = ex.vulnerable_site_bonus if unit.vulnerable_site_within_radius else ZERO
    return min(ex.max, base + bonus), {**info, "base": float(base), "bonus": float(bonus)}


def _capped(each: Decimal, cap: Decimal, count: Decimal) -> Decimal:
    return min(cap, each * count)


def assess(unit: Unit, events: Events, t0: datetime, t1: datetime, params: Params) -> Assessment:
    """Score and floors over the events active in [t0, t1] (t0 == t1: at an instant)."""
    k = params.k
    flags: list[dict[str, Any]] = []
    ignored: list[dict[str, Any]] = []
    h, h_info = _hazard(unit, params, flags)
    e, e_info = _exposure(unit, params, flags)
    g = params.control[unit.control]
    g_info = {"control": unit.control}
    r0 = h * e * g
    factors: list[Factor] = []

    # alarms: the highest level (max, not sum), then each further alarming point
    alarms = []
    for a in events.alarms:
        if not _active(a.since, a.until, t0, t1):
            continue
        if a.false_alarm:
            ignored.append({"type": "alarm", "id": a.id, "reason": "confirmed false alarm"})
        else:
            alarms.append(a)
    top_alarm: int | None = None
    if alarms:
        top_alarm = min(a.level for a in alarms)
        top = [a for a in alarms if a.level == top_alarm]
        factors.append(Factor(
            "alarm_highest", k.alarm_level[str(top_alarm)],
            f"highest active alarm: level {top_alarm}",
            [_alarm_record(a) for a in sorted(top, key=_alarm_key)],
            f"最高有效报警：{top_alarm}级",
        ))  # fmt: skip
        points = sorted({a.point for a in alarms})
        if len(points) > 1:
            further = _capped(k.further_alarm_point.each, k.further_alarm_point.cap,
                              Decimal(len(points) - 1))  # fmt: skip
            factors.append(Factor(
                "alarm_further_points", further,
                f"{len(points) - 1} further alarming point(s)",
                [_alarm_record(a) for a in sorted(alarms, key=_alarm_key) if a not in top],
                f"另有{len(points) - 1}个监测点报警",
            ))  # fmt: skip

    offline = [o for o in events.offline_points if _active(o.since, o.until, t0, t1)]
    off_points = sorted({o.point for o in offline})
    if off_points:
        factors.append(Factor(
            "offline_points",
            _capped(k.offline_point.each, k.offline_point.cap, Decimal(len(off_points))),
            f"{len(off_points)} monitoring point(s) offline",
            [{"type": "offline_point", "point": o.point, "since": iso(o.since),
              "until": iso(o.until)} for o in sorted(offline, key=_offline_key)],
            f"{len(off_points)}个监测点离线",
        ))  # fmt: skip
        flags.append({"code": "monitoring_offline", "points": off_points})
        never = sorted({o.point for o in offline if o.never_reported})
        if never:
            flags.append({"code": "never_reported", "points": never})

    # hidden hazards
    open_hazards: dict[str, list[tuple[HiddenHazard, bool]]] = {"general": [], "large": [],
                                                                 "major": []}  # fmt: skip
    for hh in events.hidden_hazards:
        closed_forever = hh.status in CLOSED_STATUSES and hh.until is None
        if closed_forever or not _active(hh.since, hh.until, t0, t1):
            continue
        overdue = False
        if hh.due is not None:
            deadline = due_deadline(hh.due, params)
            overdue = deadline <= t1 and (hh.until is None or hh.until > deadline)
        open_hazards[hh.severity].append((hh, overdue))
    gen = open_hazards["general"]
    if gen:
        n_over = sum(1 for _, o in gen if o)
        weight = Decimal(len(gen) - n_over) + k.hidden_general.overdue_factor * n_over
        factors.append(Factor(
            "hidden_general", _capped(k.hidden_general.each, k.hidden_general.cap, weight),
            f"{len(gen)} open general hidden hazard(s), {n_over} overdue",
            [_hazard_record(hh, o, params) for hh, o in sorted(gen, key=_hh_key)],
            f"{len(gen)}项一般隐患未整改，其中{n_over}项逾期",
        ))  # fmt: skip
    for sev, cfg in (("large", k.hidden_large), ("major", k.hidden_major)):
        items = open_hazards[sev]
        if items:
            factors.append(Factor(
                f"hidden_{sev}", _capped(cfg.each, cfg.cap, Decimal(len(items))),
                f"{len(items)} open {sev} hidden hazard(s)",
                [_hazard_record(hh, o, params) for hh, o in sorted(items, key=_hh_key)],
                f"{len(items)}项{level_zh(sev)}隐患未整改",
            ))  # fmt: skip

    # weather warnings: relevant ones, the highest colour only
    warnings = []
    for w in events.weather_warnings:
        if not _active(w.since, w.until, t0, t1):
            continue
        if not params.relevant(w.type, unit.category):
            ignored.append({"type": "weather_warning", "id": w.id,
                            "reason": f"{w.type} is not relevant to {unit.category}"})  # fmt: skip
            continue
        warnings.append(w)
    top_colour: str | None = None
    if warnings:
        top_colour = max((w.colour for w in warnings), key=COLOURS.index)
        factors.append(Factor(
            "weather", k.weather[top_colour], f"relevant {top_colour} weather warning",
            [_warning_record(w) for w in sorted(warnings, key=lambda w: w.id)
             if w.colour == top_colour],
            f"相关{COLOUR_ZH[top_colour]}气象预警",
        ))  # fmt: skip

    periods = [p for p in events.special_periods if _active(p.since, p.until, t0, t1)]
    if periods:
        factors.append(Factor(
            "special_period",
            _capped(k.special_period.each, k.special_period.cap, Decimal(len(periods))),
            f"{len(periods)} special period(s) in scope",
            [{"type": "special_period", "id": p.id, "since": iso(p.since),
              "until": iso(p.until)} for p in sorted(periods, key=lambda p: p.id)],
            f"处于{len(periods)}个特殊时段",
        ))  # fmt: skip

    window = timedelta(days=params.accident_window_days)
    acc = [a for a in events.accidents if _active(a.at, a.at + window, t0, t1)]
    acc_general = [a for a in acc if a.grade == "general"]
    acc_large = [a for a in acc if a.grade in LARGE_ACCIDENT_GRADES]
    for code, accs, cfg, kind_zh in (
        ("accident_general", acc_general, k.accident_general, "一般"),
        ("accident_large", acc_large, k.accident_large, "较大及以上"),
    ):
        if accs:
            factors.append(Factor(
                code, _capped(cfg.each, cfg.cap, Decimal(len(accs))),
                f"{len(accs)} accident(s) within {params.accident_window_days} days",
                [{"type": "accident", "id": a.id, "grade": a.grade, "at": iso(a.at)}
                 for a in sorted(accs, key=lambda a: (a.at, a.id))],
                f"{params.accident_window_days}天内发生{len(accs)}起{kind_zh}事故",
            ))  # fmt: skip

    sum_k = sum((f.k for f in factors), ZERO)
    applied = min(k.sum_cap, sum_k)
    r = r0 * (ONE + applied)
    score = level_of(r, params)

    floors = _floors(unit, params, open_hazards["major"], top_alarm, alarms, warnings,
                     top_colour, acc_large)  # fmt: skip
    level = score
    for f in floors:
        if f.fired and f.level is not None:
            level = higher(level, f.level)
    ignored.sort(key=lambda x: (x["type"], x["id"]))
    return Assessment(h, h_info, e, e_info, g, g_info, r0, factors, sum_k, k.sum_cap, applied, r,
                      score, floors, level, flags, ignored)  # fmt: skip


def _floors(
    unit: Unit,
    params: Params,
    majors: list[tuple[HiddenHazard, bool]],
    top_alarm: int | None,
    alarms: list[Alarm],
    warnings: list[WeatherWarning],
    top_colour: str | None,
    acc_large: list[Accident],
) -> list[Floor]:
    fl = params.floors
    out: list[Floor] = []
    reg = unit.registered_level
    out.append(Floor("F0", bool(fl.F0 and reg), reg if fl.F0 and reg else None,
                     f"registered level {reg}" if reg else "no registered level",
                     reason_zh=f"备案等级{level_zh(reg)}" if reg else "无备案等级"))  # fmt: skip
    out.append(Floor(
        "F1", bool(majors), fl.F1.level if majors else None,
        "an open major hidden hazard" if majors else "no open major hidden hazard",
        sorted(hh.id for hh, _ in majors),
        "存在未整改的重大隐患" if majors else "无未整改的重大隐患",
    ))  # fmt: skip
    red = [a.id for a in alarms if a.level == 1]
    out.append(Floor("F2", bool(red), fl.F2.level if red else None,
                     "an active level-1 alarm" if red else "no active level-1 alarm",
                     sorted(red),
                     "存在一级（红色）报警" if red else "无一级（红色）报警"))  # fmt: skip
    f3_level = getattr(fl.F3, top_colour) if top_colour is not None else None
    out.append(Floor(
        "F3", f3_level is not None, f3_level,
        f"a relevant {top_colour} weather warning" if f3_level else
        "no relevant warning of a floor colour",
        sorted(w.id for w in warnings if w.colour == top_colour) if f3_level else [],
        f"相关{COLOUR_ZH[top_colour]}气象预警" if f3_level and top_colour else
        "无触发底线的相关气象预警",
    ))  # fmt: skip
    out.append(Floor(
        "F4", bool(acc_large), fl.F4.level if acc_large else None,
        "an accident of large grade or above within the window" if acc_large
        else "no accident of large grade or above within the window",
        sorted(a.id for a in acc_large),
        "期限内发生较大及以上事故" if acc_large else "期限内无较大及以上事故",
    ))  # fmt: skip
    fired = [f.code for f in out[1:] if f.fired]
    combo = len(fired) >= fl.F5.min_fired
    out.append(Floor("F5", combo, fl.F5.level if combo else None,
                     f"{len(fired)} of F1-F4 fired" + (f" ({', '.join(fired)})" if fired else ""),
                     fired if combo else [],
                     f"F1–F4中{len(fired)}项触发" + (f"（{'、'.join(fired)}）" if fired else "")
                     ))  # fmt: skip
    return out


def _alarm_key(a: Alarm) -> tuple[int, str, datetime, str]:
    return (a.level, a.point, a.since, a.id)


def _offline_key(o: OfflinePoint) -> tuple[str, str]:
    return (o.point, iso(o.since) or "")


def _hh_key(item: tuple[HiddenHazard, bool]) -> str:
    return item[0].id


def _alarm_record(a: Alarm) -> dict[str, Any]:
    return {"type": "alarm", "id": a.id, "point": a.point, "level": a.level,
            "since": iso(a.since), "until": iso(a.until)}  # fmt: skip


def _hazard_record(hh: HiddenHazard, overdue: bool, params: Params) -> dict[str, Any]:
    return {"type": "hidden_hazard", "id": hh.id, "severity": hh.severity,
            "due": hh.due.isoformat() if hh.due else None, "overdue": overdue,
            "since": iso(hh.since), "until": iso(hh.until)}  # fmt: skip


def _warning_record(w: WeatherWarning) -> dict[str, Any]:
    return {"type": "weather_warning", "id": w.id, "warning_type": w.type, "colour": w.colour,
            "since": iso(w.since), "until": iso(w.until)}  # fmt: skip


def _decided_by(a: Assessment) -> str:
    if a.level == a.score_level:
        return "score"
    by_code = {f.code: f for f in a.floors}
    if by_code["F5"].fired and by_code["F5"].level == a.level:
        return "F5"
    for f in a.floors:
        if f.fired and f.level == a.level:
            return f.code
    return "score"  # pragma: no cover - level is always the score's or a floor's


def moments(events: Events, t0: datetime, t1: datetime, params: Params) -> list[datetime]:
    """The instants of [t0, t1] at which the level can peak: t0, each start and each due deadline.

    At one instant more active events never lower the level (monotonicity), and
    the set of active events only grows when an event starts (or a hidden hazard
    falls overdue), so the highest level of the window is the highest at these.
    """
    starts: set[datetime] = {t0}
    starts.update(a.since for a in events.alarms)
    starts.update(o.since for o in events.offline_points if o.since is not None)
    for hh in events.hidden_hazards:
        if hh.since is not None:
            starts.add(hh.since)
        if hh.due is not None:
            starts.add(due_deadline(hh.due, params))
    starts.update(w.since for w in events.weather_warnings if w.since is not None)
    starts.update(p.since for p in events.special_periods if p.since is not None)
    starts.update(a.at for a in events.accidents)
    return sorted(m for m in starts if t0 <= m <= t1)


def _ended_in(events: Events, t0: datetime, t1: datetime, params: Params) -> Iterable[datetime]:
    """End times of events active in [t0, t1] that are no longer active at t1."""
    window = timedelta(days=params.accident_window_days)
    spans: list[tuple[datetime | None, datetime | None]] = []
    spans += [(a.since, a.until) for a in events.alarms if not a.false_alarm]
    spans += [(o.since, o.until) for o in events.offline_points]
    spans += [(h.since, h.until) for h in events.hidden_hazards]
    spans += [(w.since, w.until) for w in events.weather_warnings]
    spans += [(p.since, p.until) for p in events.special_periods]
    spans += [(a.at, a.at + window) for a in events.accidents]
    for since, until in spans:
        if until is not None and _active(since, until, t0, t1) and until <= t1:
            yield until


def grade(
    unit: Unit,
    events: Events,
    as_of: datetime,
    params: Params,
    previous: str | None = None,
) -> Grade:
    """Grade one unit at `as_of` (docs/grading-model.md); `previous` is its level before, for
    hysteresis."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must carry a time zone")
    now = assess(unit, events, as_of, as_of, params)
    level = now.level
    decided_by = _decided_by(now)
    hysteresis: dict[str, Any] | None = None
    if previous is not None and LEVEL_RANK[now.level] < LEVEL_RANK[previous]:
        hold_window = timedelta(hours=float(params.hysteresis_hours))
        t0 = as_of - hold_window
        # the highest level of any single moment of the window (the earliest such moment)
        graded = [(m, assess(unit, events, m, m, params).level)
                  for m in moments(events, t0, as_of, params)]  # fmt: skip
        peak_at, peak = as_of, now.level
        for m, at_m in graded:
            if LEVEL_RANK[at_m] > LEVEL_RANK[peak]:
                peak_at, peak = m, at_m
        level = higher(now.level, lower(previous, peak))
        if level != now.level:
            # the level is held until the last moment that reached it is 24 h old
            last = max(m for m, at_m in graded if LEVEL_RANK[at_m] >= LEVEL_RANK[level])
            ends = sorted(e for e in _ended_in(events, t0, as_of, params) if e > last)
            drop = next((e for e in ends
                         if LEVEL_RANK[assess(unit, events, e, e, params).level]
                         < LEVEL_RANK[level]), None)  # fmt: skip
            hysteresis = {
                "held": True,
                "would_be": now.level,
                "hours": float(params.hysteresis_hours),
                "clear_at": iso(drop + hold_window) if drop else None,
                "peak_level": peak,
                "peak_at": iso(peak_at),
                "reason_i18n": {
                    "zh": f"保持{level_zh(level)}：24小时内{iso(peak_at)}时为{level_zh(peak)}",
                    "en": f"held at {level}: the level was {peak} at {iso(peak_at)}, "
                    "within the last 24 h",
                },
            }
            decided_by = "hysteresis"
        else:
            hysteresis = {"held": False, "would_be": now.level,
                          "hours": float(params.hysteresis_hours), "clear_at": None}  # fmt: skip
    return Grade(level, now.r, now, decided_by, previous, hysteresis, params.version, as_of, unit)


def grade_many(
    items: Sequence[tuple[Unit, Events, str | None]], as_of: datetime, params: Params
) -> list[Grade]:
    """Grade several units at the same `as_of`."""
    return [grade(u, ev, as_of, params, prev) for u, ev, prev in items]
