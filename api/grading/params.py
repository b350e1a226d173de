"""api.grading.params: the grading parameter set (docs/grading-model.md's numbers as data,
versioned).

Every number of the model lives here, not in code: the default set below is
docs/grading-model.md transcribed; the database keeps versions of it
(`grading_param_sets`), and every grade records the version it used. Numbers
are `Decimal` inside (exact arithmetic, the same as PostgreSQL `numeric` in the
set-based path) and plain JSON numbers outside.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, field_validator, model_validator

from api import codes

Num = Annotated[Decimal, Field(ge=0), PlainSerializer(float, return_type=float, when_used="json")]
Level = Annotated[str, Field(pattern="^(low|general|large|major)$")]

#: level order, lowest first
LEVEL_RANK: dict[str, int] = {level: i for i, level in enumerate(codes.LEVELS)}
ALARM_LEVELS = ("1", "2", "3", "4")
COLOURS = codes.WARNING_COLOURS  # blue < yellow < orange < red
LARGE_ACCIDENT_GRADES = ("large", "major", "especially_major")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Capped(_Strict):
    """A factor that adds `each` per record, at most `cap` in all."""

    each: Num
    cap: Num


class HiddenGeneral(Capped):
    """Open general hidden hazards: `each` apiece; an overdue one counts `overdue_factor` times."""

    overdue_factor: Num = Decimal(2)


class Hazard(_Strict):
    """H, hazard 1..5."""

    gb18218: dict[str, Num] = Field(description="GB 18218 grade (1..4) -> H")
    registered: dict[str, Num] = Field(description="registered level -> H")
    unassessed: Num = Field(description="H when neither is known (flagged)")

    @field_validator("gb18218")
    @classmethod
    def _grades(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        if set(v) != {"1", "2", "3", "4"}:
            raise ValueError("gb18218 needs grades 1, 2, 3 and 4")
        return v

    @field_validator("registered")
    @classmethod
    def _levels(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        if set(v) != set(codes.LEVELS):
            raise ValueError("registered needs low, general, large and major")
        return v


class Exposure(_Strict):
    """E, exposure 1..5, from people and vulnerable sites within the radius."""

    radius_m: Num = Field(gt=0)
    population_bands: list[tuple[int, Num]] = Field(
        description="[lower edge (inclusive), E], ascending, the first edge 0"
    )
    vulnerable_site_bonus: Num
    max: Num
    unknown_population: Num = Field(description="E when the population is not known (flagged)")

    @field_validator("population_bands")
    @classmethod
    def _bands(cls, v: list[tuple[int, Decimal]]) -> list[tuple[int, Decimal]]:
        edges = [edge for edge, _ in v]
        if not v or edges[0] != 0 or edges != sorted(set(edges)):
            raise ValueError("population_bands must ascend strictly from 0")
        return v


class K(_Strict):
    """The dynamic factors k (docs/grading-model.md's table) and the cap on their sum."""

    alarm_level: dict[str, Num] = Field(description="highest active alarm level (1..4) -> k")
    further_alarm_point: Capped
    offline_point: Capped
    hidden_general: HiddenGeneral
    hidden_large: Capped
    hidden_major: Capped
    weather: dict[str, Num] = Field(description="highest relevant warning colour -> k")
    special_period: Capped
    accident_general: Capped
    accident_large: Capped = Field(description="accidents of large grade or above")
    sum_cap: Num

    @field_validator("alarm_level")
    @classmethod
    def _alarm(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        if set(v) != set(ALARM_LEVELS):
            raise ValueError("alarm_level needs levels 1, 2, 3 and 4")
        return v

    @field_validator("weather")
    @classmethod
    def _colours(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        if set(v) != set(COLOURS):
            raise ValueError("weather needs blue, yellow, orange and red")
        return v


class Bands(_Strict):
    """Lower edges (inclusive) of R for each level above low."""

    general: Num
    large: Num
    major: Num

    @model_validator(mode="after")
    def _ascending(self) -> Bands:
        if not self.general < self.large < self.major:
            raise ValueError("bands must ascend: general < large < major")
        return self


class LevelFloor(_Strict):
    """A floor: when it fires, the level is at least `level`."""

    level: Level


class WeatherFloor(_Strict):
    """F3: a relevant warning of this colour holds the level at least at that level."""

    red: Level | None = "large"
    orange: Level | None = "general"
    yellow: Level | None = None
    blue: Level | None = None


class ComboFloor(_Strict):
    """F5: `min_fired` or more of F1-F4 at once -> `level`."""

    min_fired: int = Field(ge=1)
    level: Level


class Floors(_Strict):
    """F0-F5 of docs/grading-model.md."""

    F0: bool = Field(True, description="never below the registered level")
    F1: LevelFloor = Field(description="an open major hidden hazard")
    F2: LevelFloor = Field(description="an active level-1 (red) alarm")
    F3: WeatherFloor = Field(description="a relevant red / orange weather warning")
    F4: LevelFloor = Field(description="an accident of large grade or above within the window")
    F5: ComboFloor = Field(description="several of F1-F4 at once")


class Params(_Strict):
    """One grading parameter set (docs/grading-model.md); `version` is the database's, not part
    of the JSON."""

    hazard: Hazard
    exposure: Exposure
    control: dict[str, Num]
    k: K
    accident_window_days: int = Field(ge=1)
    bands: Bands
    floors: Floors
    hysteresis_hours: Num
    timezone: str = Field(description="time zone in which a hidden hazard's due date ends")
    relevance: dict[str, list[str]] = Field(
        description="weather-warning type -> the risk-unit categories it is relevant to"
    )
    version: int = Field(0, exclude=True, description="the stored version (0: not stored)")

    @field_validator("control")
    @classmethod
    def _control(cls, v: dict[str, Decimal]) -> dict[str, Decimal]:
        if set(v) != set(codes.CONTROL_LEVELS):
            raise ValueError(f"control needs {', '.join(codes.CONTROL_LEVELS)}")
        return v

    @field_validator("relevance")
    @classmethod
    def _relevance(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown_types = set(v) - set(codes.WARNING_TYPES)
        if unknown_types:
            raise ValueError(f"unknown warning types: {sorted(unknown_types)}")
        for typ, cats in v.items():
            bad = set(cats) - set(codes.CATEGORIES)
            if bad:
                raise ValueError(f"{typ}: unknown categories {sorted(bad)}")
        return v

    @field_validator("timezone")
    @classmethod
    def _tz(cls, v: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v

    def to_json(self) -> dict[str, Any]:
        """The parameter set as JSON-ready data (numbers as JSON numbers)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_json(cls, data: dict[str, Any], version: int = 0) -> Params:
        """A parameter set from JSON data (as stored), with its database version."""
        return cls.model_validate({**data, "version": version})

    def with_version(self, version: int) -> Params:
        """The same numbers under another version."""
        return self.model_copy(update={"version": version})

    def relevant(self, warning_type: str, category: str) -> bool:
        """Whether a warning of this type is relevant to units of this category."""
        return category in self.relevance.get(warning_type, ())


_RAIN = [
    "waterlogging_point", "drainage", "bridge_tunnel", "underground_space",
    "construction", "geological_hazard", "rail_transit",
]  # fmt: skip
_COLD = ["gas", "water_supply", "heat_supply", "bridge_tunnel", "rail_transit", "power"]

#: docs/grading-model.md, transcribed. Version 1 in every database.
DEFAULT_PARAMS_JSON: dict[str, Any] = {
    "hazard": {
        "gb18218": {"1": 5, "2": 4, "3": 4, "4": 3},
        "registered": {"major": 5, "large": 4, "general": 3, "low": 2},
        "unassessed": 3,
    },
    "exposure": {
        "radius_m": 500,
        "population_bands": [[0, 1], [1000, 2], [5000, 3], [15000, 4], [30000, 5]],
        "vulnerable_site_bonus": 1,
        "max": 5,
        "unknown_population": 3,
    },
    "control": {
        "grade1": 0.8,
        "grade2": 0.9,
        "compliant": 1.0,
        "noncompliant": 1.2,
        "suspended": 1.5,
    },  # fmt: skip
    "k": {
        "alarm_level": {"1": 0.40, "2": 0.20, "3": 0.10, "4": 0.05},
        "further_alarm_point": {"each": 0.05, "cap": 0.10},
        "offline_point": {"each": 0.05, "cap": 0.10},
        "hidden_general": {"each": 0.05, "cap": 0.15, "overdue_factor": 2},
        "hidden_large": {"each": 0.15, "cap": 0.15},
        "hidden_major": {"each": 0.30, "cap": 0.30},
        "weather": {"blue": 0.05, "yellow": 0.10, "orange": 0.20, "red": 0.30},
        "special_period": {"each": 0.10, "cap": 0.10},
        "accident_general": {"each": 0.15, "cap": 0.30},
        "accident_large": {"each": 0.40, "cap": 0.40},
        "sum_cap": 1.0,
    },
    "accident_window_days": 365,
    "bands": {"general": 6, "large": 12, "major": 20},
    "floors": {
        "F0": True,
        "F1": {"level": "large"},
        "F2": {"level": "large"},
        "F3": {"red": "large", "orange": "general", "yellow": None, "blue": None},
        "F4": {"level": "large"},
        "F5": {"min_fired": 2, "level": "major"},
    },
    "hysteresis_hours": 24,
    "timezone": "Asia/Shanghai",
    "relevance": {
        "rainstorm": _RAIN,
        "heat": ["gas", "hazardous_chemicals", "power", "crowded_place"],
        "cold_wave": _COLD,
        "snowstorm": _COLD,
        "road_icing": _COLD,
        "gale": ["construction", "high_rise", "crowded_place", "power"],
        "thunder_lightning": ["hazardous_chemicals", "gas", "power", "high_rise"],
        "hail": ["construction", "crowded_place"],
        "fog": ["bridge_tunnel", "rail_transit"],
        "haze": ["bridge_tunnel", "rail_transit"],
        "dust_storm": ["construction", "crowded_place"],
        "drought": ["water_supply"],
    },
}


def default_params() -> Params:
    """docs/grading-model.md's parameter set (version 1 once stored)."""
    return Params.from_json(DEFAULT_PARAMS_JSON, version=1)
