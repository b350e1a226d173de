"""The pure grading model (docs/grading-model.md): worked examples, band edges, floors,
hysteresis, laws."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api import codes
from api.grading import model
from api.grading.model import Events, Unit, grade
from api.grading.params import DEFAULT_PARAMS_JSON, Params, default_params
from tests.support.grading_cases import (
    APART_EVENTS,
    AS_OF,
    EXAMPLE_A2_EVENTS,
    EXAMPLE_A_EVENTS,
    EXAMPLE_A_UNIT,
    EXAMPLE_B_EVENTS,
    EXAMPLE_B_UNIT,
    alarm,
    events,
    params_with_k4,
    units,
)

P = default_params()


def test_params_round_trip_json() -> None:
    """The default set is docs/grading-model.md's numbers and survives JSON unchanged."""
    data = P.to_json()
    assert data == json.loads(json.dumps(DEFAULT_PARAMS_JSON))
    again = Params.from_json(json.loads(json.dumps(data)), version=7)
    assert again.to_json() == data and again.version == 7
    assert P.k.alarm_level == {"1": Decimal("0.4"), "2": Decimal("0.2"), "3": Decimal("0.1"),
                               "4": Decimal("0.05")}  # fmt: skip
    assert P.exposure.radius_m == 500 and P.hysteresis_hours == 24
    assert P.relevant("rainstorm", "drainage") and not P.relevant("rainstorm", "gas")


def test_params_are_validated() -> None:
    """A set missing a level, with descending bands or unknown codes is refused."""
    bad = json.loads(json.dumps(DEFAULT_PARAMS_JSON))
    bad["bands"] = {"general": 12, "large": 6, "major": 20}
    with pytest.raises(ValueError, match="ascend"):
        Params.from_json(bad)
    bad = json.loads(json.dumps(DEFAULT_PARAMS_JSON))
    bad["relevance"]["heat"] = ["volcano"]
    with pytest.raises(ValueError, match="volcano"):
        Params.from_json(bad)
    bad = json.loads(json.dumps(DEFAULT_PARAMS_JSON))
    del bad["control"]["suspended"]
    with pytest.raises(ValueError, match="control"):
        Params.from_json(bad)


def test_worked_example_a() -> None:
    """A: R0 = 3 x 3 x 1.0 = 9; level-2 alarm + general hazard -> 11.25 general."""
    g = grade(EXAMPLE_A_UNIT, EXAMPLE_A_EVENTS, AS_OF, P)
    assert (g.level, g.r, g.now.r0, g.now.sum_k) == ("general", Decimal("11.25"), 9, Decimal(".25"))
    j = g.to_json()
    assert [(f["code"], f["k"]) for f in j["factors"]] == [
        ("alarm_highest", 0.2),
        ("hidden_general", 0.05),
    ]
    assert j["factors"][0]["records"] == [
        {"type": "alarm", "id": "a1", "point": "p1", "level": 2,
         "since": "2026-05-31T23:00:00+00:00", "until": None},
    ]  # fmt: skip
    assert j["formula"] == {
        "r0": "R0 = H × E × G = 3 × 3 × 1 = 9",
        "r": "R = R0 × (1 + min(1, Σk)) = 9 × (1 + 0.25) = 11.25",
    }
    assert (j["h"]["value"], j["h"]["basis"], j["e"]["value"], j["g"]["value"]) == (
        3.0, "registered_level", 3.0, 1.0)  # fmt: skip
    assert j["decided_by"] == "score" and j["colour"] == "yellow" and j["param_version"] == 1
    assert [f["code"] for f in j["floors"] if f["fired"]] == ["F0"]


def test_explanation_texts_in_both_languages() -> None:
    """Every factor, floor and decision text the popup shows comes in zh and en; old fields stay."""
    j = grade(EXAMPLE_A_UNIT, EXAMPLE_A2_EVENTS, AS_OF, P, previous="general").to_json()
    assert [(f["detail"], f["detail_i18n"]) for f in j["factors"]] == [
        ("highest active alarm: level 1",
         {"zh": "最高有效报警：1级", "en": "highest active alarm: level 1"}),
        ("1 further alarming point(s)",
         {"zh": "另有1个监测点报警", "en": "1 further alarming point(s)"}),
        ("1 open general hidden hazard(s), 0 overdue",
         {"zh": "1项一般隐患未整改，其中0项逾期",
          "en": "1 open general hidden hazard(s), 0 overdue"}),
    ]  # fmt: skip
    floors = {f["code"]: f for f in j["floors"]}
    assert floors["F0"]["reason"] == "registered level general"
    assert floors["F0"]["reason_i18n"] == {"zh": "备案等级一般", "en": "registered level general"}
    assert floors["F2"]["reason_i18n"]["zh"] == "存在一级（红色）报警"
    assert floors["F5"]["reason_i18n"] == {"zh": "F1–F4中1项触发（F2）",
                                           "en": "1 of F1-F4 fired (F2)"}  # fmt: skip
    assert (j["decided_by"], j["decided_by_i18n"]) == ("score", {"zh": "评分", "en": "score"})
    # every text of every rule, in a grade that fires them all, has both languages
    ev = Events(
        alarms=(alarm("a", "p", 1), alarm("b", "q", 2)),
        offline_points=(model.OfflinePoint("r"),),
        hidden_hazards=tuple(model.HiddenHazard(s, s, date(2026, 1, 1), since=AS_OF)
                             for s in ("general", "large", "major")),
        weather_warnings=(model.WeatherWarning("w", "rainstorm", "red"),),
        special_periods=(model.SpecialPeriod("s"),),
        accidents=(model.Accident("c", "general", AS_OF), model.Accident("d", "large", AS_OF)),
    )  # fmt: skip
    full = grade(Unit("drainage", "low"), ev, AS_OF, P).to_json()
    assert len(full["factors"]) == 10 and all(f["fired"] for f in full["floors"])
    for item in full["factors"] + full["floors"]:
        texts = item.get("detail_i18n") or item["reason_i18n"]
        assert texts["zh"] and texts["en"] and texts["zh"] != texts["en"], item
    assert full["decided_by_i18n"] == {"zh": "底线规则 F5", "en": "floor F5"}


def test_worked_example_a_escalates() -> None:
    """A, then level 1 and a second sensor: k = 0.40 + 0.05 + 0.05, R = 13.5 -> large, F2 fires."""
    g = grade(EXAMPLE_A_UNIT, EXAMPLE_A2_EVENTS, AS_OF, P, previous="general")
    assert (g.level, g.r, g.now.sum_k) == ("large", Decimal("13.5"), Decimal("0.5"))
    assert [(f.code, f.k) for f in g.now.factors] == [
        ("alarm_highest", Decimal("0.4")),
        ("alarm_further_points", Decimal("0.05")),
        ("hidden_general", Decimal("0.05")),
    ]
    fired = {f.code: f for f in g.now.floors if f.fired}
    assert set(fired) == {"F0", "F2"} and fired["F2"].records == ["a1b"]
    assert g.change == "up" and g.decided_by == "score"


def test_worked_example_b() -> None:
    """B: R0 = 4 x 5 x 0.9 = 18; major hazard + orange heat + National Day -> 28.8 major."""
    g = grade(EXAMPLE_B_UNIT, EXAMPLE_B_EVENTS, AS_OF, P)
    assert (g.now.h, g.now.e, g.now.g, g.now.r0) == (4, 5, Decimal("0.9"), 18)
    assert (g.level, g.r, g.now.sum_k) == ("major", Decimal("28.8"), Decimal("0.6"))
    assert [f.code for f in g.now.floors if f.fired] == ["F0", "F1", "F3", "F5"]
    assert g.now.score_level == "major" and g.decided_by == "score"
    assert g.to_json()["e"]["vulnerable_sites"] == ["hospital-1"]


@pytest.mark.parametrize(
    ("unit", "k4", "r", "level"),
    [
        (Unit("gas", None, 1, "compliant", 0), "0.198", "5.99", "low"),
        (Unit("gas", None, 1, "compliant", 0), "0.2", "6", "general"),
        (Unit("gas", None, 1, "compliant", 1000), "0.199", "11.99", "general"),
        (Unit("gas", None, 1, "compliant", 1000), "0.2", "12", "large"),
        (Unit("gas", "large", None, "compliant", 15000), "0.249375", "19.99", "large"),
        (Unit("gas", "large", None, "compliant", 15000), "0.25", "20", "major"),
    ],
)
def test_band_edges(unit: Unit, k4: str, r: str, level: str) -> None:
    """Lower band edges are inclusive: 5.99 / 6 / 11.99 / 12 / 19.99 / 20."""
    params = params_with_k4(k4)
    g = grade(unit, Events(alarms=(alarm("a", "p", 4),)), AS_OF, params)
    assert g.r == Decimal(r) and g.level == level and g.now.score_level == level
    assert model.level_of(Decimal(r), params) == level


def _floor(g: model.Grade, code: str) -> model.Floor:
    return next(f for f in g.now.floors if f.code == code)


LOW_UNIT = Unit("gas", None, None, "grade1", 0)  # H 3 (unassessed), E 1, G 0.8: R0 = 2.4


def test_floor_f0_registered_level() -> None:
    """F0: never below the registered level."""
    g = grade(replace(LOW_UNIT, registered_level="large"), Events(), AS_OF, P)
    assert g.now.score_level == "low" and g.level == "large" and g.decided_by == "F0"
    assert _floor(g, "F0").fired and _floor(g, "F0").level == "large"
    g = grade(LOW_UNIT, Events(), AS_OF, P)
    assert g.level == "low" and not _floor(g, "F0").fired
    assert g.to_json()["data_quality"] == [{"code": "hazard_unassessed", "detail": "H assumed 3"}]


def test_floor_f1_major_hidden_hazard() -> None:
    """F1: an open major hidden hazard -> at least large; a closed one does nothing."""
    hz = model.HiddenHazard("hm", "major", since=AS_OF - timedelta(days=1))
    g = grade(LOW_UNIT, Events(hidden_hazards=(hz,)), AS_OF, P)
    assert (g.level, g.decided_by, _floor(g, "F1").records) == ("large", "F1", ["hm"])
    closed = replace(hz, until=AS_OF - timedelta(minutes=1), status="closed")
    assert grade(LOW_UNIT, Events(hidden_hazards=(closed,)), AS_OF, P).level == "low"


def test_floor_f2_red_alarm() -> None:
    """F2: an active level-1 alarm -> at least large; a confirmed false alarm does nothing."""
    g = grade(LOW_UNIT, Events(alarms=(alarm("a", "p", 1),)), AS_OF, P)
    assert (g.level, g.decided_by) == ("large", "F2")
    g = grade(LOW_UNIT, Events(alarms=(alarm("a", "p", 1, false_alarm=True),)), AS_OF, P)
    assert g.level == "low" and g.now.factors == []
    assert g.to_json()["ignored"] == [
        {"type": "alarm", "id": "a", "reason": "confirmed false alarm"}
    ]


@pytest.mark.parametrize(
    ("colour", "level"), [("red", "large"), ("orange", "general"), ("yellow", "low")]
)
def test_floor_f3_weather(colour: str, level: str) -> None:
    """F3: relevant red -> at least large, orange -> at least general; irrelevant is ignored."""
    w = model.WeatherWarning("w", "heat", colour)
    g = grade(LOW_UNIT, Events(weather_warnings=(w,)), AS_OF, P)
    assert g.level == level and _floor(g, "F3").fired == (colour != "yellow")
    rain = model.WeatherWarning("w", "rainstorm", colour)
    g = grade(LOW_UNIT, Events(weather_warnings=(rain,)), AS_OF, P)
    assert g.level == "low" and g.now.sum_k == 0
    assert g.to_json()["ignored"][0]["reason"] == "rainstorm is not relevant to gas"


def test_floor_f4_large_accident_within_window() -> None:
    """F4: an accident of large grade or above within 365 days -> at least large."""
    inside = model.Accident("c", "major", AS_OF - timedelta(days=365) + timedelta(seconds=1))
    outside = model.Accident("c", "major", AS_OF - timedelta(days=365))
    g = grade(LOW_UNIT, Events(accidents=(inside,)), AS_OF, P)
    assert (g.level, g.decided_by, g.now.sum_k) == ("large", "F4", Decimal("0.4"))
    assert grade(LOW_UNIT, Events(accidents=(outside,)), AS_OF, P).level == "low"


def test_floor_f5_two_floors_make_major() -> None:
    """F5: two or more of F1-F4 at once -> major."""
    ev = Events(alarms=(alarm("a", "p", 1),),
                accidents=(model.Accident("c", "large", AS_OF - timedelta(days=3)),))  # fmt: skip
    g = grade(LOW_UNIT, ev, AS_OF, P)
    assert (g.level, g.decided_by) == ("major", "F5")
    assert _floor(g, "F5").records == ["F2", "F4"]


def test_factor_caps_and_overdue() -> None:
    """Caps: further points 0.10, offline 0.10, general hazards 0.15 (overdue counts double)."""
    ev = Events(
        alarms=tuple(alarm(f"a{i}", f"p{i}", 4) for i in range(5)),
        offline_points=tuple(model.OfflinePoint(f"q{i}") for i in range(3)),
        hidden_hazards=(
            model.HiddenHazard("h1", "general", date(2026, 5, 31)),  # overdue since 00:00 +08
            model.HiddenHazard("h2", "general", date(2026, 6, 1)),  # due today
        ),
    )
    g = grade(LOW_UNIT, ev, AS_OF, P)
    ks = {f.code: f.k for f in g.now.factors}
    assert ks == {"alarm_highest": Decimal("0.05"), "alarm_further_points": Decimal("0.10"),
                  "offline_points": Decimal("0.10"), "hidden_general": Decimal("0.15")}  # fmt: skip
    one = Events(hidden_hazards=(model.HiddenHazard("h1", "general", date(2026, 5, 31)),))
    assert grade(LOW_UNIT, one, AS_OF, P).now.sum_k == Decimal("0.10")
    # the due date ends at midnight Asia/Shanghai: 2026-05-31 16:00 UTC
    before = AS_OF - timedelta(hours=8, seconds=1)
    assert grade(LOW_UNIT, one, before, P).now.sum_k == Decimal("0.05")


def test_sum_of_k_is_capped_at_one() -> None:
    """Σk is capped at 1.0 in R."""
    ev = Events(
        alarms=(alarm("a", "p", 1), alarm("b", "q", 2), alarm("c", "r", 2)),
        hidden_hazards=(model.HiddenHazard("m", "major"), model.HiddenHazard("l", "large")),
        weather_warnings=(model.WeatherWarning("w", "heat", "red"),),
        accidents=(model.Accident("c", "large", AS_OF - timedelta(days=1)),),
    )
    g = grade(Unit("gas", "low", None, "compliant", 0), ev, AS_OF, P)
    # 0.40 + 2 x 0.05 + 0.30 + 0.15 + 0.30 + 0.40
    assert g.now.sum_k == Decimal("1.65") and g.now.sum_k_applied == 1 and g.r == Decimal("4.0")


def test_hysteresis_holds_a_downgrade_for_24_hours() -> None:
    """A downgrade waits until its cause has been clear for 24 h (from the event's end)."""
    ended = AS_OF - timedelta(hours=23, minutes=59)
    ev = Events(alarms=(alarm("a", "p", 1, AS_OF - timedelta(days=2), until=ended),))
    g = grade(LOW_UNIT, ev, AS_OF, P, previous="large")
    assert (g.level, g.decided_by, g.now.level) == ("large", "hysteresis", "low")
    peak_at = (AS_OF - timedelta(hours=24)).isoformat()
    assert g.hysteresis == {
        "held": True, "would_be": "low", "hours": 24.0,
        "clear_at": (ended + timedelta(hours=24)).isoformat(),
        "peak_level": "large", "peak_at": peak_at,
        "reason_i18n": {"zh": f"保持较大：24小时内{peak_at}时为较大",
                        "en": f"held at large: the level was large at {peak_at}, within the "
                        "last 24 h"},
    }  # fmt: skip
    later = grade(LOW_UNIT, ev, ended + timedelta(hours=24), P, previous="large")
    assert (later.level, later.decided_by, later.change) == ("low", "score", "down")
    # no previous level: nothing to hold
    assert grade(LOW_UNIT, ev, AS_OF, P).level == "low"


def test_hysteresis_allows_a_partial_downgrade_and_never_raises() -> None:
    """Held at the level the last 24 h justify, never above the previous level."""
    ev = Events(
        alarms=(alarm("a", "p", 1, AS_OF - timedelta(days=2), until=AS_OF - timedelta(hours=1)),),
        accidents=(model.Accident("c", "large", AS_OF - timedelta(days=2)),),
    )
    # F2 (ended 1 h ago) + F4 (active) held major; now only F4: large
    g = grade(LOW_UNIT, ev, AS_OF, P, previous="major")
    assert (g.now.level, g.level) == ("large", "major")
    g = grade(LOW_UNIT, ev, AS_OF, P, previous="general")
    assert g.level == "large" and g.hysteresis is None


def test_hysteresis_holds_the_highest_single_moment_not_the_union() -> None:
    """F1 and F2 at different moments hold large; only a moment with both held F5's major."""
    g = grade(LOW_UNIT, APART_EVENTS, AS_OF, P, previous="major")
    assert (g.now.level, g.level, g.decided_by) == ("low", "large", "hysteresis")
    assert g.hysteresis is not None
    assert (g.hysteresis["peak_level"], g.hysteresis["peak_at"]) == (
        "large", (AS_OF - timedelta(hours=20)).isoformat())  # fmt: skip
    # large is held until the alarm's end (the last moment at large) is 24 h old
    assert g.hysteresis["clear_at"] == (AS_OF + timedelta(hours=19)).isoformat()
    assert grade(LOW_UNIT, APART_EVENTS, AS_OF + timedelta(hours=19), P, "major").level == "low"
    # the same two causes overlapping for one hour: that moment was major
    overlap = replace(
        APART_EVENTS,
        alarms=(alarm("a", "p", 1, AS_OF - timedelta(hours=16), until=AS_OF - timedelta(hours=5)),),
    )
    held = grade(LOW_UNIT, overlap, AS_OF, P, previous="major")
    assert (held.level, held.hysteresis and held.hysteresis["peak_at"]) == (
        "major", (AS_OF - timedelta(hours=16)).isoformat())  # fmt: skip


def test_as_of_must_carry_a_zone() -> None:
    """Naive times are refused: every window is measured from a real instant."""
    with pytest.raises(ValueError):
        grade(LOW_UNIT, Events(), AS_OF.replace(tzinfo=None), P)


PROPS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(unit=units(), ev=events(), prev=st.one_of(st.none(), st.sampled_from(codes.LEVELS)))
def test_grade_is_deterministic(unit: Unit, ev: Events, prev: str | None) -> None:
    """The same inputs and as_of always give the same grade and explanation."""
    a = grade(unit, ev, AS_OF, P, prev).to_json()
    shuffled = Events(
        ev.alarms[::-1], ev.offline_points[::-1], ev.hidden_hazards[::-1],
        ev.weather_warnings[::-1], ev.special_periods[::-1], ev.accidents[::-1],
    )  # fmt: skip
    b = grade(unit, shuffled, AS_OF, P, prev).to_json()
    assert a == b


@PROPS
@given(
    unit=units(),
    ev=events(),
    extra=events(prefix="x"),
    prev=st.one_of(st.none(), st.sampled_from(codes.LEVELS)),
)
def test_adding_events_never_lowers_the_grade(
    unit: Unit, ev: Events, extra: Events, prev: str | None
) -> None:
    """Monotonicity: more events never give a lower level or a lower R."""
    before = grade(unit, ev, AS_OF, P, prev)
    after = grade(unit, ev.plus(extra), AS_OF, P, prev)
    assert model.LEVEL_RANK[after.level] >= model.LEVEL_RANK[before.level]
    assert after.r >= before.r
