"""api.grading.records: the model's inputs (a unit and its events) and outputs (factors,
floors, the assessment, the grade and its explanation), as plain frozen records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from api import codes
from api.grading.params import LEVEL_RANK

# ---------------------------------------------------------------- inputs


@dataclass(frozen=True, slots=True)
class Unit:
    """What is static about a risk unit (exposure already measured)."""

    category: str
    registered_level: str | None = None
    gb18218_grade: int | None = None
    control: str = "compliant"
    population_within_radius: int | None = None
    vulnerable_site_within_radius: bool = False
    code: str | None = None
    #: ids behind the static inputs (explanation only)
    hazard_sources: tuple[str, ...] = ()
    vulnerable_sites: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Alarm:
    """One alarm period of a monitoring point at one level (1 highest)."""

    id: str
    point: str
    level: int
    since: datetime
    until: datetime | None = None
    false_alarm: bool = False


@dataclass(frozen=True, slots=True)
class OfflinePoint:
    """A period in which a monitoring point had no reading within its expected interval."""

    point: str
    since: datetime | None = None
    until: datetime | None = None
    never_reported: bool = False


@dataclass(frozen=True, slots=True)
class HiddenHazard:
    """A hidden hazard (隐患), open from `since` (reported) until `until` (verified/closed)."""

    id: str
    severity: str
    due: date | None = None
    status: str = "open"
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class WeatherWarning:
    """A weather warning that intersects the unit, valid from `since` until `until`."""

    id: str
    type: str
    colour: str
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class SpecialPeriod:
    """A special period (holiday, major event) whose scope covers the unit."""

    id: str
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Accident:
    """An accident at the unit."""

    id: str
    grade: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Events:
    """Everything that happened at (or over) one unit."""

    alarms: tuple[Alarm, ...] = ()
    offline_points: tuple[OfflinePoint, ...] = ()
    hidden_hazards: tuple[HiddenHazard, ...] = ()
    weather_warnings: tuple[WeatherWarning, ...] = ()
    special_periods: tuple[SpecialPeriod, ...] = ()
    accidents: tuple[Accident, ...] = ()

    def plus(self, other: Events) -> Events:
        """These events and the other's."""
        return Events(
            self.alarms + other.alarms,
            self.offline_points + other.offline_points,
            self.hidden_hazards + other.hidden_hazards,
            self.weather_warnings + other.weather_warnings,
            self.special_periods + other.special_periods,
            self.accidents + other.accidents,
        )


# ---------------------------------------------------------------- outputs


@dataclass(slots=True)
class Factor:
    """One dynamic factor: its code, its k, why it applies (en, zh) and the records behind it."""

    code: str
    k: Decimal
    detail: str
    records: list[dict[str, Any]]
    detail_zh: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON form (`detail` English as before; `detail_i18n` both languages)."""
        return {"code": self.code, "k": float(self.k), "detail": self.detail,
                "detail_i18n": {"zh": self.detail_zh, "en": self.detail},
                "records": self.records}  # fmt: skip


@dataclass(slots=True)
class Floor:
    """One floor rule (F0-F5): whether it fired and the level it holds."""

    code: str
    fired: bool
    level: str | None
    reason: str
    records: list[str] = field(default_factory=list)
    reason_zh: str = ""

    def to_json(self) -> dict[str, Any]:
        """JSON form (`reason` English as before; `reason_i18n` both languages)."""
        return {"code": self.code, "fired": self.fired, "level": self.level,
                "reason": self.reason, "reason_i18n": {"zh": self.reason_zh, "en": self.reason},
                "records": self.records}  # fmt: skip


@dataclass(slots=True)
class Assessment:
    """The score and floors of a unit over one window (no hysteresis)."""

    h: Decimal
    h_info: dict[str, Any]
    e: Decimal
    e_info: dict[str, Any]
    g: Decimal
    g_info: dict[str, Any]
    r0: Decimal
    factors: list[Factor]
    sum_k: Decimal
    sum_cap: Decimal
    sum_k_applied: Decimal
    r: Decimal
    score_level: str
    floors: list[Floor]
    level: str
    data_quality: list[dict[str, Any]]
    ignored: list[dict[str, Any]]


@dataclass(slots=True)
class Grade:
    """A unit's level at `as_of` and everything that explains it."""

    level: str
    r: Decimal
    now: Assessment
    decided_by: str
    previous_level: str | None
    hysteresis: dict[str, Any] | None
    param_version: int
    as_of: datetime
    unit: Unit

    @property
    def colour(self) -> str:
        """The level's map colour."""
        return codes.LEVEL_COLOURS[self.level]

    @property
    def change(self) -> str:
        """new / up / down / same against the previous level."""
        if self.previous_level is None:
            return "new"
        diff = LEVEL_RANK[self.level] - LEVEL_RANK[self.previous_level]
        return "up" if diff > 0 else "down" if diff < 0 else "same"

    def to_json(self) -> dict[str, Any]:
        """The full explanation docs/grading-model.md lists, as JSON-ready data."""
        a = self.now
        return {
            "level": self.level,
            "level_zh": codes.LEVEL_NAMES_ZH[self.level],
            "colour": self.colour,
            "r": float(a.r),
            "r0": float(a.r0),
            "sum_k": float(a.sum_k),
            "sum_k_applied": float(a.sum_k_applied),
            "formula": {
                "r0": f"R0 = H × E × G = {num(a.h)} × {num(a.e)} × {num(a.g)} = {num(a.r0)}",
                "r": f"R = R0 × (1 + min({num(a.sum_cap)}, Σk)) = {num(a.r0)} × "
                f"(1 + {num(a.sum_k_applied)}) = {num(a.r)}",
            },
            "h": {"value": float(a.h), **a.h_info},
            "e": {"value": float(a.e), **a.e_info},
            "g": {"value": float(a.g), **a.g_info},
            "factors": [f.to_json() for f in a.factors],
            "score_level": a.score_level,
            "floors": [f.to_json() for f in a.floors],
            "decided_by": self.decided_by,
            "decided_by_i18n": decided_by_text(self.decided_by),
            "previous_level": self.previous_level,
            "change": self.change,
            "hysteresis": self.hysteresis,
            "param_version": self.param_version,
            "as_of": self.as_of.isoformat(),
            "unit": {
                "code": self.unit.code,
                "category": self.unit.category,
                "registered_level": self.unit.registered_level,
                "gb18218_grade": self.unit.gb18218_grade,
                "control": self.unit.control,
            },
            "data_quality": a.data_quality,
            "ignored": a.ignored,
        }


#: warning colours as the Chinese texts name them
COLOUR_ZH = {"blue": "蓝色", "yellow": "黄色", "orange": "橙色", "red": "红色"}


def level_zh(level: str | None) -> str:
    """A level's Chinese name (the code itself when unknown)."""
    return codes.LEVEL_NAMES_ZH.get(level or "", level or "")


def decided_by_text(code: str) -> dict[str, str]:
    """What decided the level, in both languages (the score, a floor or hysteresis)."""
    if code == "score":
        return {"zh": "评分", "en": "score"}
    if code == "hysteresis":
        return {
            "zh": "滞后保持（24小时内的较高等级）",
            "en": "hysteresis (a higher level of the last 24 h)",
        }
    return {"zh": f"底线规则 {code}", "en": f"floor {code}"}


def num(d: Decimal) -> str:
    """A number as people write it: no exponent, no trailing zeros."""
    text = format(d.normalize(), "f")
    return text


def iso(t: datetime | None) -> str | None:
    """A time as ISO 8601 text (None stays None)."""
    return t.isoformat() if t is not None else None
