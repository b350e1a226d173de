"""tests.support.grading_cases: docs/grading-model.md's worked examples; hypothesis strategies
for units, events."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hypothesis import strategies as st

from api import codes
from api.grading import model
from api.grading.params import Params, default_params

AS_OF = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)  # 08:00 in Xi'an


def params_with_k4(k4: str) -> Params:
    """The default set with another k for a level-4 alarm (to land R on a band edge)."""
    data = default_params().to_json()
    data["k"]["alarm_level"]["4"] = float(Decimal(k4))
    return Params.from_json(data, version=1)


def alarm(id_: str, point: str, level: int, since: datetime = AS_OF, **kw: object) -> model.Alarm:
    """An alarm period."""
    return model.Alarm(id_, point, level, since, **kw)  # type: ignore[arg-type]


EXAMPLE_A_UNIT = model.Unit("gas", "general", None, "compliant", 8000, False, code="A")
REPORTED = AS_OF - timedelta(days=3)
EXAMPLE_A_EVENTS = model.Events(
    alarms=(alarm("a1", "p1", 2, AS_OF - timedelta(hours=1)),),
    hidden_hazards=(model.HiddenHazard("h1", "general", date(2026, 6, 30), since=REPORTED),),
)
EXAMPLE_A2_EVENTS = model.Events(
    alarms=(
        alarm("a1", "p1", 2, AS_OF - timedelta(hours=1), until=AS_OF - timedelta(minutes=10)),
        alarm("a1b", "p1", 1, AS_OF - timedelta(minutes=10)),
        alarm("a2", "p2", 3, AS_OF - timedelta(minutes=5)),
    ),
    hidden_hazards=(model.HiddenHazard("h1", "general", date(2026, 6, 30), since=REPORTED),),
)
# B: GB 18218 三级 (R = 35.2) -> H 4; 25,000 people and a hospital -> E 5; grade 2 -> G 0.9
EXAMPLE_B_UNIT = model.Unit(
    "hazardous_chemicals", "large", 3, "grade2", 25000, True, code="B",
    vulnerable_sites=("hospital-1",),
)  # fmt: skip
EXAMPLE_B_EVENTS = model.Events(
    hidden_hazards=(model.HiddenHazard("hm", "major", date(2026, 9, 30), since=REPORTED),),
    weather_warnings=(
        model.WeatherWarning("heat-1", "heat", "orange", REPORTED, AS_OF + timedelta(days=1)),
    ),
    special_periods=(
        model.SpecialPeriod("national-day", AS_OF - timedelta(days=1), AS_OF + timedelta(days=6)),
    ),
)

# ---------------------------------------------------------------- strategies

_T = st.integers(min_value=-60 * 24 * 40, max_value=60 * 2).map(
    lambda m: AS_OF + timedelta(minutes=m)
)
_SPAN = st.integers(min_value=1, max_value=60 * 24 * 3).map(lambda m: timedelta(minutes=m))
_IDS = st.integers(min_value=0, max_value=10**9)


@st.composite
def spans(draw: st.DrawFn) -> tuple[datetime, datetime | None]:
    """A start and an optional end after it."""
    since = draw(_T)
    until = draw(st.one_of(st.none(), _SPAN.map(lambda d: since + d)))
    return since, until


@st.composite
def units(draw: st.DrawFn) -> model.Unit:
    """A risk unit as the model sees it."""
    return model.Unit(
        category=draw(st.sampled_from(codes.CATEGORIES)),
        registered_level=draw(st.one_of(st.none(), st.sampled_from(codes.LEVELS))),
        gb18218_grade=draw(st.one_of(st.none(), st.integers(1, 4))),
        control=draw(st.sampled_from(codes.CONTROL_LEVELS)),
        population_within_radius=draw(st.integers(0, 60_000)),
        vulnerable_site_within_radius=draw(st.booleans()),
    )


@st.composite
def events(draw: st.DrawFn, prefix: str = "") -> model.Events:
    """Events at one unit (ids unique within the draw; points p0..p3 shared by alarms)."""
    n = iter(range(10**6))

    def uid(kind: str) -> str:
        return f"{prefix}{kind}{next(n)}"

    alarms = []
    for point in draw(st.lists(st.sampled_from(["p0", "p1", "p2", "p3"]), max_size=4)):
        since, until = draw(spans())
        alarms.append(model.Alarm(uid("a"), prefix + point, draw(st.integers(1, 4)), since, until,
                                  draw(st.booleans()) and draw(st.booleans())))  # fmt: skip
    offline = []
    for _ in range(draw(st.integers(0, 3))):
        since, until = draw(spans())
        offline.append(model.OfflinePoint(uid("o"), since, until))
    hazards = []
    for _ in range(draw(st.integers(0, 5))):
        since, until = draw(spans())
        due = draw(st.one_of(st.none(), st.integers(-40, 10).map(
            lambda d: (AS_OF + timedelta(days=d)).date())))  # fmt: skip
        hazards.append(model.HiddenHazard(uid("h"), draw(st.sampled_from(["general", "large",
                                          "major"])), due, "open", since, until))  # fmt: skip
    warnings = []
    for _ in range(draw(st.integers(0, 3))):
        since, until = draw(spans())
        warnings.append(model.WeatherWarning(
            uid("w"), draw(st.sampled_from(codes.WARNING_TYPES)),
            draw(st.sampled_from(codes.WARNING_COLOURS)), since, until or since + timedelta(days=2),
        ))  # fmt: skip
    periods = []
    for _ in range(draw(st.integers(0, 2))):
        since, until = draw(spans())
        periods.append(model.SpecialPeriod(uid("s"), since, until or since + timedelta(days=7)))
    accidents = []
    for _ in range(draw(st.integers(0, 3))):
        at = AS_OF - timedelta(days=draw(st.integers(-1, 370)), minutes=draw(st.integers(0, 1439)))
        accidents.append(model.Accident(uid("c"), draw(st.sampled_from(codes.ACCIDENT_GRADES)), at))
    return model.Events(tuple(alarms), tuple(offline), tuple(hazards), tuple(warnings),
                        tuple(periods), tuple(accidents))  # fmt: skip


#: two floors that never overlapped in the last 24 h: a major hidden hazard open from
#: 20 h to 15 h ago (F1), then a level-1 alarm from 10 h to 5 h ago (F2); nothing now
APART_EVENTS = model.Events(
    alarms=(alarm("a", "p", 1, AS_OF - timedelta(hours=10), until=AS_OF - timedelta(hours=5)),),
    hidden_hazards=(
        model.HiddenHazard(
            "h", "major", None, "verified", AS_OF - timedelta(hours=20), AS_OF - timedelta(hours=15)
        ),
    ),  # fmt: skip
)
