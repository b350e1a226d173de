"""api.incidents.models: what /incidents and its dispatches take (interfaces others call)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.analysis.models import Body
from api.timestamps import Timestamp

Code = Annotated[str, Field(min_length=1, max_length=128)]


class IncidentIn(BaseModel):
    """An incident: where (a GeoJSON Point or Polygon), what kind, how severe, when."""

    model_config = ConfigDict(extra="forbid")

    geometry: dict[str, Any] = Field(
        description="GeoJSON Point, Polygon or MultiPolygon (WGS84 lon/lat)",
        examples=[{"type": "Point", "coordinates": [108.9398, 34.3416]}],
    )
    kind: Annotated[
        str,
        Field(
            min_length=2,
            max_length=40,
            pattern=r"^[a-z_]+$",
            description="fire, explosion, gas_leak, waterlogging, collapse, hazchem_release, "
            "traffic_accident (GET /incidents/kinds)",
        ),
    ]
    severity: Annotated[int, Field(ge=1, le=4, description="1 = I级 (especially major) .. 4")]
    occurred_at: Timestamp
    title: Annotated[str | None, Field(max_length=200)] = None
    description: Annotated[str | None, Field(max_length=4000)] = None
    reporter: Annotated[str | None, Field(max_length=200)] = None


class Item(BaseModel):
    """Some of one item a depot holds."""

    model_config = ConfigDict(extra="forbid")

    item_type: Annotated[str, Field(min_length=1, max_length=128)]
    quantity: Annotated[int, Field(ge=1, le=10_000_000)]


class DispatchIn(BaseModel):
    """A team (`team`), or items from a depot (`depot` and `items`)."""

    model_config = ConfigDict(extra="forbid")

    team: Code | None = None
    depot: Code | None = None
    items: Annotated[list[Item] | None, Field(max_length=100)] = None

    @model_validator(mode="after")
    def _one(self) -> DispatchIn:
        if (self.team is None) == (self.depot is None):
            raise ValueError("give either team, or depot with items")
        if self.team is not None and self.items is not None:
            raise ValueError("a team dispatch takes no items")
        if self.depot is not None:
            if not self.items:
                raise ValueError("a depot dispatch needs at least one item")
            kinds = [i.item_type for i in self.items]
            if len(set(kinds)) != len(kinds):
                raise ValueError("items: each item_type once")
        return self


class StatusIn(BaseModel):
    """The next state of a dispatch."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["en_route", "on_scene", "released"]


class SeverityIn(BaseModel):
    """An incident's severity re-assessed."""

    model_config = ConfigDict(extra="forbid")

    severity: Annotated[int, Field(ge=1, le=4, description="1 = I级 (especially major) .. 4")]


class NeedIn(Body):
    """One minimum need per person per week (InaSAFE), and the depot item that covers it."""

    need: Annotated[
        str, Field(pattern=r"^[a-z_]{2,40}$", description="key, e.g. rice", examples=["rice"])
    ]
    name_zh: Annotated[str, Field(min_length=1, max_length=40, examples=["大米"])]
    unit: Annotated[str, Field(min_length=1, max_length=20, examples=["kg"])]
    per_person_week: Annotated[float, Field(ge=0, le=10_000, examples=[2.8])]
    item_type: Annotated[
        str | None,
        Field(min_length=1, max_length=128, description="the depot_stock item that covers it"),
    ] = None
    per_item: Annotated[
        float | None, Field(gt=0, le=1_000_000, description="how much of the need one item covers")
    ] = None

    @model_validator(mode="after")
    def _item(self) -> NeedIn:
        if (self.item_type is None) != (self.per_item is None):
            raise ValueError(f"{self.need}: give item_type and per_item together, or neither")
        return self


class MinimumNeedsIn(Body):
    """A new version of the minimum needs: the whole table (the old versions stay); no
    unknown members, no NaN, no NUL in text (Body)."""

    needs: Annotated[list[NeedIn], Field(min_length=1, max_length=50)]
    note: Annotated[str, Field(max_length=500, description="why this version")] = ""
