"""api.analysis.models: the JSON bodies of the analysis endpoints (unknown members: 400)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

LayerName = Annotated[str, Field(min_length=1, max_length=64, examples=["risk_units"])]
Where = dict[str, Any | list[Any]]


def _no_nul(value: Any) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("text values may not contain NUL characters")
    elif isinstance(value, dict):
        for k, v in value.items():
            _no_nul(k)
            _no_nul(v)
    elif isinstance(value, list | tuple):
        for v in value:
            _no_nul(v)


class Body(BaseModel):
    """Base of the request bodies: no unknown members, no NaN or infinity, no NUL in text."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _text_without_nul(cls, data: Any) -> Any:
        _no_nul(data)
        return data


class FeatureRef(Body):
    """A stored feature, by layer and code."""

    layer: LayerName
    code: Annotated[str, Field(min_length=1, max_length=200, examples=["HS-0001"])]


class Located(Body):
    """Where the analysis starts: exactly one of a point, a GeoJSON geometry or a feature."""

    point: Annotated[
        tuple[float, float] | None,
        Field(description="[lon, lat] in WGS84", examples=[[108.9398, 34.3416]]),
    ] = None
    geometry: Annotated[
        dict[str, Any] | None,
        Field(
            description="a GeoJSON geometry in WGS84 lon/lat (Point, LineString, Polygon, Multi*)",
            examples=[{"type": "Point", "coordinates": [108.9398, 34.3416]}],
        ),
    ] = None
    feature: Annotated[FeatureRef | None, Field(description="a stored feature")] = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Located:
        given = [n for n in ("point", "geometry", "feature") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of point, geometry or feature"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self


Distance = Annotated[float, Field(ge=0, description="metres", examples=[500])]
INT32 = 2**31 - 1
Levels = Annotated[
    list[str] | None,
    Field(description="levels (layers with a level field: risk units low/general/large/major)"),
]


class BufferIn(Located):
    """Everything of the chosen layers within `distance_m` metres of the input."""

    distance_m: Distance
    layers: Annotated[
        list[LayerName] | None,
        Field(description="layers to search (default: every point and area layer but the grid)"),
    ] = None
    where: Annotated[
        dict[LayerName, Where] | None,
        Field(
            description="per layer, field: value or [values] to keep",
            examples=[{"risk_units": {"current_level": ["large", "major"]}}],
        ),
    ] = None


class OverlayWith(Body):
    """The features of another layer to overlay with."""

    layer: LayerName
    codes: Annotated[list[str] | None, Field(description="only these features")] = None
    where: Annotated[
        Where | None, Field(description="field: value or [values]", examples=[{"colour": "orange"}])
    ] = None


class OverlayIn(Body):
    """Features of `layer` meeting (or within) a polygon or the features of another layer."""

    layer: LayerName
    geometry: Annotated[dict[str, Any] | None, Field(description="a GeoJSON geometry in WGS84")] = (
        None
    )
    with_: Annotated[OverlayWith | None, Field(alias="with")] = None
    predicate: Literal["intersects", "within"] = "intersects"
    categories: list[str] | None = None
    levels: Levels = None
    where: Annotated[Where | None, Field(description="filters on `layer`'s fields")] = None
    return_features: Annotated[
        bool, Field(description="false: counts only (no result-size cap)")
    ] = True

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)

    @model_validator(mode="after")
    def _one_overlay(self) -> OverlayIn:
        if (self.geometry is None) == (self.with_ is None):
            raise ValueError("give exactly one of geometry or with")
        return self


class NearestIn(Located):
    """The k nearest features of a layer, with optional filters."""

    layer: LayerName
    k: Annotated[int, Field(ge=1, le=INT32, examples=[5])] = 5
    max_distance_m: Annotated[float | None, Field(ge=0, description="metres")] = None
    min_free_capacity: Annotated[
        int | None, Field(ge=0, le=INT32, description="shelters: capacity - occupied >= this")
    ] = None
    item: Annotated[str | None, Field(description="reserve depots: holding this item type")] = None
    min_quantity: Annotated[
        int | None, Field(ge=0, le=INT32, description="... at least this many")
    ] = None
    speciality: Annotated[str | None, Field(description="rescue teams of this speciality")] = None
    categories: list[str] | None = None
    levels: Levels = None
    where: Where | None = None


class ImpactIn(Located):
    """A hazard at a point/feature with a radius, or a polygon (radius 0 allowed)."""

    radius_m: Distance = 0
    shelters_max: Annotated[
        int | None,
        Field(ge=0, le=INT32, description="most shelters to propose (default 20, or the k cap)"),
    ] = None
    teams_k: Annotated[int | None, Field(ge=0, description="nearest rescue teams (default 5)")] = (
        None
    )
    depots_k: Annotated[
        int | None, Field(ge=0, le=INT32, description="nearest reserve depots (default 5)")
    ] = None


class CoverageIn(Body):
    """Per district: the share of residents within `distance_m` of a shelter."""

    distance_m: Distance
    districts: Annotated[list[str] | None, Field(description="district codes (default all)")] = None
    include_geometry: bool = False
