"""api.routers.analysis: spatial analysis (analyst role): POST JSON in, GeoJSON out, metres."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from api.analysis import buffer, coverage, impact, nearest, overlay
from api.analysis.models import BufferIn, CoverageIn, ImpactIn, NearestIn, OverlayIn
from api.deps import Analyst, ReadPoolDep, SettingsDep
from api.errors import PayloadTooLarge

GEOJSON = "application/geo+json"


class CappedBodyRoute(APIRoute):
    """A route that refuses bodies larger than analysis_max_body_bytes (413) before parsing them."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """Wrap the handler with the body-size check."""
        handler = super().get_route_handler()

        async def capped(request: Request) -> Response:
            cap = request.app.state.settings.analysis_max_body_bytes
            length = request.headers.get("content-length", "")
            too_big = PayloadTooLarge(
                f"the request body is larger than {cap} bytes (cap analysis_max_body_bytes={cap})",
                cap="analysis_max_body_bytes",
                limit=cap,
            )
            if length.isdigit() and int(length) > cap:
                raise too_big
            size, chunks = 0, []
            async for chunk in request.stream():
                size += len(chunk)
                if size > cap:
                    raise too_big
                chunks.append(chunk)
            request._body = b"".join(chunks)
            return await handler(request)

        return capped


router = APIRouter(prefix="/analysis", tags=["analysis"], route_class=CappedBodyRoute)

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"},
    400: {"description": "bad input or a cap passed (the problem names the cap)"},
    413: {"description": "body or input geometry past its cap"},
    503: {"description": "the query ran past the statement timeout and was cancelled"},
}


def _geojson(text: str) -> Response:
    return Response(content=text, media_type=GEOJSON)


@router.post(
    "/buffer",
    operation_id="analysisBuffer",
    summary="Everything of the chosen layers within D metres of a point, geometry or feature",
    response_class=Response,
    responses=_RESPONSES,
)
async def post_buffer(
    body: BufferIn, who: Analyst, pool: ReadPoolDep, settings: SettingsDep
) -> Response:
    """Features within `distance_m` metres (on the WGS84 spheroid), nearest first.

    Each feature carries `layer`, `distance_m` (to the input, 0 inside it) and the
    layer's fields; `counts` gives, per layer, the total and the number per level.
    """
    async with pool.acquire() as conn:
        return _geojson(await buffer.run(conn, body, settings))


@router.post(
    "/overlay",
    operation_id="analysisOverlay",
    summary="Features of a layer that intersect a polygon or the features of another layer",
    response_class=Response,
    responses=_RESPONSES,
)
async def post_overlay(
    body: OverlayIn, who: Analyst, pool: ReadPoolDep, settings: SettingsDep
) -> Response:
    """E.g. schools inside orange warning polygons; risk units per district (`return_features`
    false gives the counts only). Each feature lists the overlay codes it meets in `overlaps`.
    """
    async with pool.acquire() as conn:
        return _geojson(await overlay.run(conn, body, settings))


@router.post(
    "/nearest",
    operation_id="analysisNearest",
    summary="The k nearest features of a layer, with filters, each with its distance",
    response_class=Response,
    responses=_RESPONSES,
)
async def post_nearest(
    body: NearestIn, who: Analyst, pool: ReadPoolDep, settings: SettingsDep
) -> Response:
    """Nearest first by distance in metres on the spheroid (ties by code). Filters:
    `min_free_capacity` (shelters), `item` + `min_quantity` (reserve depots),
    `speciality` (rescue teams), `categories`, `levels`, `where` (any field).
    """
    async with pool.acquire() as conn:
        return _geojson(await nearest.run(conn, body, settings))


@router.post(
    "/impact",
    operation_id="analysisImpact",
    summary="Hazard x exposure: affected units, sites, population; shelters, teams, depots",
    response_class=Response,
    responses=_RESPONSES,
)
async def post_impact(
    body: ImpactIn, who: Analyst, pool: ReadPoolDep, settings: SettingsDep
) -> Response:
    """A hazard at a point or feature with `radius_m`, or a polygon (grown by `radius_m`).

    Features carry a `role`: impact_zone, risk_unit, vulnerable_site, shelter (the nearest
    outside the zone with free places, as many as it takes to house the population),
    rescue_team, reserve_depot. `summary` has the totals; population is area-weighted
    over the population grid.
    """
    async with pool.acquire() as conn:
        return _geojson(await impact.run(conn, body, settings))


@router.post(
    "/coverage",
    operation_id="analysisCoverage",
    summary="Per district: share of residents within D metres of a shelter, places per resident",
    response_class=Response,
    responses=_RESPONSES,
)
async def post_coverage(
    body: CoverageIn, who: Analyst, pool: ReadPoolDep, settings: SettingsDep
) -> Response:
    """One feature per district with population, covered population and share, shelters,
    capacity and capacity per resident; `summary` gives the city."""
    async with pool.acquire() as conn:
        return _geojson(await coverage.run(conn, body, settings))
