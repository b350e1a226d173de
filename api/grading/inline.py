"""api.grading.inline: the what-if request (`POST /grading/evaluate`): a unit and events inline."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api import codes
from api.grading import gb18218, model
from api.timestamps import Timestamp

Category = Literal[codes.CATEGORIES]  # type: ignore[valid-type]
LevelCode = Literal["low", "general", "large", "major"]
Control = Literal["grade1", "grade2", "compliant", "noncompliant", "suspended"]
Id = Annotated[str, Field(min_length=1, max_length=128)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HoldingIn(_In):
    """A quantity of a hazardous chemical (GB 18218)."""

    substance: Annotated[str, Field(min_length=1, max_length=200)]
    quantity_tonnes: Annotated[float, Field(ge=0, allow_inf_nan=False)]
    category: Annotated[str | None, Field(max_length=8)] = None


class GB18218In(_In):
    """Holdings from which the unit's GB 18218 grade is computed."""

    holdings: Annotated[list[HoldingIn], Field(min_length=1, max_length=200)]
    people_within_500m: Annotated[int, Field(ge=0)]


class UnitIn(_In):
    """The unit's static side; exposure as numbers (what PostGIS would measure)."""

    code: Id | None = None
    category: Category
    registered_level: LevelCode | None = None
    gb18218_grade: Annotated[int | None, Field(ge=1, le=4)] = None
    gb18218: GB18218In | None = Field(None, description="compute gb18218_grade from holdings")
    control: Control = "compliant"
    population_within_radius: Annotated[int | None, Field(ge=0)] = None
    vulnerable_site_within_radius: bool = False

    @model_validator(mode="after")
    def _one_grade_source(self) -> UnitIn:
        if self.gb18218 is not None and self.gb18218_grade is not None:
            raise ValueError("give gb18218_grade or gb18218 holdings, not both")
        return self


class AlarmIn(_In):
    """An alarm period of a monitoring point (level 1 is the highest)."""

    id: Id
    point: Id
    level: Annotated[int, Field(ge=1, le=4)]
    since: Timestamp
    until: Timestamp | None = None
    false_alarm: bool = False


class OfflineIn(_In):
    """A monitoring point without a reading within its expected interval."""

    point: Id
    since: Timestamp | None = None
    until: Timestamp | None = None


class HiddenHazardIn(_In):
    """A hidden hazard; open unless its status is verified/closed or `until` has passed."""

    id: Id
    severity: Literal["general", "large", "major"]
    due: date | None = None
    status: Literal["open", "reported", "assigned", "rectifying", "verified", "closed"] = "open"
    since: Timestamp | None = None
    until: Timestamp | None = None


class WarningIn(_In):
    """A weather warning, taken to intersect the unit."""

    id: Id
    type: Literal[codes.WARNING_TYPES]  # type: ignore[valid-type]
    colour: Literal["blue", "yellow", "orange", "red"]
    since: Timestamp | None = None
    until: Timestamp | None = None


class PeriodIn(_In):
    """A special period, taken to cover the unit."""

    id: Id
    since: Timestamp | None = None
    until: Timestamp | None = None


class AccidentIn(_In):
    """An accident at the unit."""

    id: Id
    grade: Literal["general", "large", "major", "especially_major"]
    at: Timestamp


Many: Any = Field(default_factory=list, max_length=1000)


class EventsIn(_In):
    """Everything given inline about the unit."""

    alarms: list[AlarmIn] = Many
    offline_points: list[OfflineIn | Id] = Many
    hidden_hazards: list[HiddenHazardIn] = Many
    weather_warnings: list[WarningIn] = Many
    special_periods: list[PeriodIn] = Many
    accidents: list[AccidentIn] = Many


class EvaluateIn(_In):
    """A what-if: grade this unit with these events at `as_of`; nothing is stored."""

    unit: UnitIn
    events: EventsIn = Field(default_factory=EventsIn)
    as_of: Timestamp
    previous_level: LevelCode | None = Field(None, description="for hysteresis")


def to_model(body: EvaluateIn) -> tuple[model.Unit, model.Events, dict[str, Any] | None]:
    """The model's inputs (and the GB 18218 computation when holdings were given)."""
    u = body.unit
    grade = u.gb18218_grade
    gb: dict[str, Any] | None = None
    if u.gb18218 is not None:
        try:
            res = gb18218.evaluate(
                [gb18218.Holding(h.substance, h.quantity_tonnes, h.category)
                 for h in u.gb18218.holdings],
                u.gb18218.people_within_500m,
            )  # fmt: skip
        except ValueError as exc:
            from api.errors import BadRequest

            raise BadRequest(str(exc)) from exc
        grade = res.grade
        gb = {
            "s": res.s,
            "alpha": res.alpha,
            "r": res.r,
            "is_major_hazard_source": res.is_major,
            "grade": res.grade,
            "lines": [
                {"substance": x.substance, "quantity_tonnes": x.quantity_tonnes,
                 "threshold_tonnes": x.threshold_tonnes, "beta": x.beta, "ratio": x.ratio,
                 "basis": x.basis, "beta_basis": x.beta_basis}
                for x in res.lines
            ],
        }  # fmt: skip
    unit = model.Unit(
        u.category, u.registered_level, grade, u.control, u.population_within_radius,
        u.vulnerable_site_within_radius, u.code,
    )  # fmt: skip
    e = body.events
    events = model.Events(
        tuple(model.Alarm(a.id, a.point, a.level, a.since, a.until, a.false_alarm)
              for a in e.alarms),
        tuple(model.OfflinePoint(o) if isinstance(o, str) else
              model.OfflinePoint(o.point, o.since, o.until) for o in e.offline_points),
        tuple(model.HiddenHazard(h.id, h.severity, h.due, h.status, h.since, h.until)
              for h in e.hidden_hazards),
        tuple(model.WeatherWarning(w.id, w.type, w.colour, w.since, w.until)
              for w in e.weather_warnings),
        tuple(model.SpecialPeriod(p.id, p.since, p.until) for p in e.special_periods),
        tuple(model.Accident(a.id, a.grade, a.at) for a in e.accidents),
    )  # fmt: skip
    return unit, events, gb
