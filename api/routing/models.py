"""api.routing.models: the bodies of /analysis/route and /analysis/reach (unknown members: 400)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from api.analysis.models import Body

Lon = Annotated[float, Field(ge=-180, le=180)]
Lat = Annotated[float, Field(ge=-90, le=90)]
LonLat = Annotated[
    tuple[Lon, Lat], Field(description="[lon, lat] in WGS84", examples=[[108.9423, 34.261]])
]
Minutes = Annotated[int, Field(ge=1, le=180, description="a cut-off in minutes")]


class RouteIn(Body):
    """A trip from one point to another."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)

    origin: Annotated[LonLat, Field(alias="from")]
    destination: Annotated[LonLat, Field(alias="to")]


class LayerSources(Body):
    """Every feature of a layer that passes the filter (field: value or [values])."""

    layer: Annotated[str, Field(min_length=1, max_length=64, examples=["rescue_teams"])]
    filter: Annotated[
        dict[str, Any] | None,
        Field(description="field: value or [values], all must hold", examples=[{}]),
    ] = None


class ReachIn(Body):
    """Sources (points or a layer) and the cut-offs of a reach."""

    sources: Annotated[
        list[LonLat] | LayerSources,
        Field(
            description="[[lon, lat], ...] or {layer, filter}",
            examples=[[[108.9423, 34.261]]],
        ),
    ]
    minutes: Annotated[
        list[Minutes], Field(min_length=1, max_length=6, description="cut-offs in minutes")
    ] = [5, 10, 15]
