"""api.routers.routing: travel time over the road network: route, reach (isochrones), coverage."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Response

from api.deps import Analyst, ReadPoolDep, SettingsDep
from api.errors import BadRequest
from api.routers.analysis import CappedBodyRoute
from api.routing import engine
from api.routing.models import LayerSources, ReachIn, RouteIn
from api.routing.sources import COVERAGE_SETS, layer_points
from api.settings import Settings

GEOJSON = "application/geo+json"
router = APIRouter(tags=["routing"], route_class=CappedBodyRoute)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad input, a point too far from any road (says how far), a cap passed"},
    404: {"description": "no route between the two points"},
    503: {"description": "the query ran past the statement timeout and was cancelled"},
}


def _check_minutes(minutes: list[int], settings: Settings) -> None:
    cap = settings.routing_max_minutes
    if max(minutes) > cap:
        raise BadRequest(
            f"minutes: {max(minutes)} is more than the largest cut-off, {cap} "
            f"(cap routing_max_minutes={cap})",
            cap="routing_max_minutes",
            limit=cap,
        )


@router.post(
    "/analysis/route",
    operation_id="analysisRoute",
    summary="The fastest route between two points over the road network, with its turn list",
    responses=_RESPONSES,
)
async def post_route(
    body: RouteIn, who: Analyst, pool: ReadPoolDep, settings: SettingsDep
) -> dict[str, Any]:
    """`{"from": [lon, lat], "to": [lon, lat]}` → `duration_s`, `length_m`, `geometry`
    (GeoJSON LineString), `steps` (one per road: maneuver, name, length, duration) and, for
    each end, where it was snapped onto the network (`edge`, `fraction`, `snapped_m`).
    """
    async with pool.acquire() as conn:
        return await engine.route(
            conn, body.origin, body.destination, max_snap_m=settings.routing_max_snap_m
        )


@router.post(
    "/analysis/reach",
    operation_id="analysisReach",
    summary="Isochrones: what can be reached within 5, 10, 15 minutes from one or many sources",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "a FeatureCollection"},
               **_RESPONSES},
)  # fmt: skip
async def post_reach(
    body: ReachIn,
    who: Analyst,
    pool: ReadPoolDep,
    settings: SettingsDep,
    edges: Annotated[
        bool, Query(description="add the reached pieces of road with their agg_cost_s")
    ] = False,
) -> Response:
    """One area feature per cut-off (`minutes`, `edges_reached`, `length_km`, `population`);
    a partly reached road is cut where the time runs out. Many sources: each place belongs
    to its nearest source (`source` on each edge). `sources` in the answer: where each
    source was snapped onto the network and how far.
    """
    _check_minutes(body.minutes, settings)
    cap = settings.routing_max_sources
    async with pool.acquire() as conn:
        if isinstance(body.sources, LayerSources):
            points, codes = await layer_points(conn, body.sources.layer, body.sources.filter, cap)
            if not points:
                raise BadRequest(f"sources: no feature of {body.sources.layer} passes the filter")
            labels = [f"{body.sources.layer} {c}" for c in codes]
        else:
            points = [tuple(p) for p in body.sources]  # type: ignore[misc]
            if not points:
                raise BadRequest("sources: give at least one point")
            if len(points) > cap:
                raise BadRequest(
                    f"sources: {len(points)} points, more than {cap} "
                    f"(cap routing_max_sources={cap})",
                    cap="routing_max_sources",
                    limit=cap,
                )
            labels = [f"sources[{i}]" for i in range(len(points))]
        text = await engine.reach(
            conn,
            points,
            body.minutes,
            edges=edges,
            max_snap_m=settings.routing_max_snap_m,
            labels=labels,
        )
    return Response(text, media_type=GEOJSON)


@router.get(
    "/stats/coverage",
    operation_id="getCoverageStats",
    summary="Per district: residents and vulnerable sites within N minutes of a shelter, team...",
    responses=_RESPONSES,
)
async def coverage_stats(
    who: Analyst,
    pool: ReadPoolDep,
    settings: SettingsDep,
    layer: Annotated[
        Literal["shelters", "rescue_teams", "fire_stations", "reserve_depots"],
        Query(description="what the places are reached from"),
    ] = "shelters",
    minutes: Annotated[
        list[int] | None, Query(description="cut-offs in minutes (repeat for several)")
    ] = None,
    unreached: Annotated[
        bool, Query(description="add the populated cells beyond the largest cut-off (GeoJSON)")
    ] = False,
) -> dict[str, Any]:
    """Over the road network from every feature of the layer (`fire_stations`: rescue teams
    of speciality 消防救援): per district and cut-off, the population reached and not reached
    and the vulnerable sites (schools, kindergartens, hospitals, nursing homes) reached and
    not, by kind; `city` the same for the whole city.
    """
    mins = minutes or [15]
    if len(mins) > 6 or min(mins) < 1:
        raise BadRequest("minutes: one to six cut-offs, each at least 1")
    _check_minutes(mins, settings)
    table, where = COVERAGE_SETS[layer]
    async with pool.acquire() as conn:
        points, _ = await layer_points(conn, table, where, None)
        result = await engine.coverage(
            conn, points, mins, max_snap_m=settings.routing_max_snap_m, unreached=unreached
        )
    return {"layer": layer, **result}
