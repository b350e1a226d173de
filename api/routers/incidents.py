"""api.routers.incidents: incidents, their response plan, dispatches and timeline (thin)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import StreamingResponse

from api.deps import CityAdmin, GradingDep, PoolDep, Reader, Responder, ServicesDep, SettingsDep
from api.incidents import needs, service
from api.incidents.models import DispatchIn, IncidentIn, MinimumNeedsIn, SeverityIn, StatusIn
from api.risk_events.common import regrade_after

router = APIRouter(tags=["incidents"])

Id = Annotated[int, Path(ge=1, le=2**62)]
_WRITE: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad input (unknown kind, bad geometry): nothing written"},
    404: {"description": "no such incident, team or depot"},
    409: {"description": "the team is taken, the stock is short, or the incident is closed"},
}


@router.post(
    "/incidents",
    operation_id="reportIncident",
    status_code=201,
    responses=_WRITE,
    summary="Report an incident; the risk units it touches get an accident and a regrade",
)
async def report(
    body: IncidentIn, who: Responder, pool: PoolDep, grading: GradingDep, settings: SettingsDep
) -> dict[str, Any]:
    """`{"geometry": <GeoJSON Point or Polygon>, "kind": "gas_leak", "severity": 1..4,
    "occurred_at": "<RFC 3339>"}` → 201 with the incident (`id`, ...). Severity 1 is the worst
    (I级). An incident of an accident kind records an accident at every risk unit within
    `incident_touch_m`, which regrades them (explained like every grade)."""
    async with pool.acquire() as conn, conn.transaction():
        row, units = await service.record(conn, body, who, settings)
    return {**row, "regrade": await regrade_after(grading, units)}


@router.get("/incidents", operation_id="listIncidents", summary="Incidents, newest first")
async def list_incidents(
    reader: Reader,
    pool: PoolDep,
    status: Literal["open", "closed"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Incidents, optionally only open or closed ones."""
    async with pool.acquire() as conn:
        return await service.listing(conn, status, limit)


@router.get(
    "/incidents/kinds",
    operation_id="listIncidentKinds",
    summary="Kinds of incident: impact radius and the team specialities each needs",
)
async def kinds(reader: Reader, pool: PoolDep) -> list[dict[str, Any]]:
    """The table `incident_kinds`."""
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM incident_kinds ORDER BY kind")
    return [dict(r) for r in rows]


@router.get(
    "/minimum-needs",
    operation_id="listMinimumNeeds",
    summary="Minimum needs per person per week (InaSAFE), every version",
)
async def minimum_needs(reader: Reader, pool: PoolDep) -> list[dict[str, Any]]:
    """Rows of `minimum_needs`, newest version first; a plan uses the newest."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT version, need, name_zh, unit, per_person_week, item_type, per_item, source "
            "FROM minimum_needs ORDER BY version DESC, need"
        )
    return [dict(r) for r in rows]


@router.get(
    "/minimum-needs/versions",
    operation_id="listMinimumNeedsVersions",
    summary="The versions of the minimum needs: who made each, when, why, and its needs",
)
async def minimum_needs_versions(reader: Reader, pool: PoolDep) -> list[dict[str, Any]]:
    """Newest first; a plan names the version it used (`needs_version`)."""
    async with pool.acquire() as conn:
        return await needs.versions(conn)


@router.get(
    "/minimum-needs/versions/{version}",
    operation_id="getMinimumNeedsVersion",
    responses={404: {"description": "no such version"}},
    summary="One version of the minimum needs",
)
async def minimum_needs_version(
    version: Annotated[int, Path(ge=1, le=2**31 - 1)], reader: Reader, pool: PoolDep
) -> dict[str, Any]:
    """The version's needs, who made it, when and why."""
    async with pool.acquire() as conn:
        (out,) = await needs.versions(conn, version)
    return out


@router.put(
    "/minimum-needs",
    operation_id="putMinimumNeeds",
    status_code=201,
    responses={400: {"description": "a need listed twice, an item no depot stocks: nothing "
                                    "written"}},
    summary="Publish a new version of the minimum needs (admin); the old versions stay",
)  # fmt: skip
async def put_minimum_needs(
    body: MinimumNeedsIn, who: CityAdmin, pool: PoolDep, response: Response
) -> dict[str, Any]:
    """`{"needs": [{"need": "rice", "name_zh": "大米", "unit": "kg", "per_person_week": 2.8,
    "item_type": "方便食品", "per_item": 5}, ...], "note": "why"}`: the whole table as the new
    version (201, `Location` names it); plans from now on use it."""
    async with pool.acquire() as conn, conn.transaction():
        out = await needs.publish(conn, body, who)
    response.headers["location"] = f"/minimum-needs/versions/{out['version']}"
    return out


@router.get(
    "/incidents/{incident_id}",
    operation_id="getIncident",
    responses={404: {"description": "no such incident"}},
    summary="One incident",
)
async def get_incident(incident_id: Id, reader: Reader, pool: PoolDep) -> dict[str, Any]:
    """The incident with its kind's radius and a point on it."""
    async with pool.acquire() as conn:
        return await service.get(conn, incident_id)


@router.get(
    "/incidents/{incident_id}/plan",
    operation_id="getIncidentPlan",
    responses={404: {"description": "no such incident"}},
    summary="The response plan: affected, teams/depots/shelters by travel time, needs",
)
async def get_plan(
    incident_id: Id,
    reader: Reader,
    pool: PoolDep,
    settings: SettingsDep,
    days: Annotated[int | None, Query(ge=1, le=60, description="days of needs")] = None,
    teams: Annotated[int, Query(ge=1, le=30, description="nearest k teams")] = 5,
    routes: Annotated[
        int, Query(ge=0, le=5, description="routes drawn: the first n teams, n - 1 depots")
    ] = 1,
) -> dict[str, Any]:
    """What is affected within the kind's radius (units, vulnerable sites, population,
    lifelines); the nearest k teams of the specialities the kind needs, depots and shelters by
    travel time over the road network (`eta_s`) within `incident_plan_minutes`, with routes;
    the needs of the affected population for `days` (InaSAFE minimum needs, newest version)
    against the stock of the depots in reach; the shelters that can take them."""
    async with pool.acquire() as conn:
        return await service.plan(conn, incident_id, settings, days, teams, routes)


@router.post(
    "/incidents/{incident_id}/dispatches",
    operation_id="dispatchToIncident",
    status_code=201,
    responses=_WRITE,
    summary="Dispatch a team or depot items; the stock falls in the same transaction",
)
async def post_dispatch(
    incident_id: Id, body: DispatchIn, who: Responder, pool: PoolDep, settings: SettingsDep
) -> dict[str, Any]:
    """`{"team": "<code>"}` or `{"depot": "<code>", "items": [{"item_type": ..., "quantity":
    n}]}` → 201 with the dispatch; 409 when the team is taken or the stock is short."""
    async with pool.acquire() as conn:
        eta = await service.eta(conn, incident_id, body, settings)
        async with conn.transaction():
            return await service.dispatch(conn, incident_id, body, who, eta)


@router.get(
    "/incidents/{incident_id}/dispatches",
    operation_id="listIncidentDispatches",
    responses={404: {"description": "no such incident"}},
    summary="The dispatches",
)
async def list_dispatches(incident_id: Id, reader: Reader, pool: PoolDep) -> list[dict[str, Any]]:
    """Every dispatch of the incident with its state and times."""
    async with pool.acquire() as conn:
        await service.get(conn, incident_id)
        return await service.dispatches(conn, incident_id)


@router.post(
    "/incidents/{incident_id}/dispatches/{dispatch_id}/status",
    operation_id="moveDispatch",
    responses=_WRITE,
    summary="Move a dispatch on: en_route, on_scene, released",
)
async def move_dispatch(
    incident_id: Id, dispatch_id: Id, body: StatusIn, who: Responder, pool: PoolDep
) -> dict[str, Any]:
    """States only move forward (409 otherwise); each records its time."""
    async with pool.acquire() as conn, conn.transaction():
        return await service.move(conn, incident_id, dispatch_id, body.status, who)


@router.post(
    "/incidents/{incident_id}/close",
    operation_id="closeIncident",
    responses=_WRITE,
    summary="Close the incident; dispatches still out are released",
)
async def close_incident(
    incident_id: Id, who: Responder, pool: PoolDep, settings: SettingsDep
) -> dict[str, Any]:
    """409 when already closed. Its CAP alert, if any, is cancelled."""
    async with pool.acquire() as conn, conn.transaction():
        return await service.close(conn, incident_id, who, settings)


@router.post(
    "/incidents/{incident_id}/severity",
    operation_id="setIncidentSeverity",
    responses=_WRITE,
    summary="Re-assess the severity; the CAP alert follows",
)
async def severity(
    incident_id: Id, body: SeverityIn, who: Responder, pool: PoolDep, settings: SettingsDep
) -> dict[str, Any]:
    """At or above `cap_max_severity` an alert is issued (or updated); below it, cancelled."""
    async with pool.acquire() as conn, conn.transaction():
        return await service.set_severity(conn, incident_id, body.severity, who, settings)


@router.get(
    "/incidents/{incident_id}/events",
    operation_id="getIncidentTimeline",
    responses={404: {"description": "no such incident"}},
    summary="The timeline",
)
async def timeline(incident_id: Id, reader: Reader, pool: PoolDep) -> list[dict[str, Any]]:
    """Reported, accident recorded, dispatched, en route, on scene, released, closed."""
    async with pool.acquire() as conn:
        return await service.events(conn, incident_id)


def _frame(event: dict[str, Any]) -> bytes:
    return f"id: {event['id']}\nevent: incident\ndata: ".encode() + orjson.dumps(event) + b"\n\n"


@router.get(
    "/events/incidents",
    operation_id="streamIncidentEvents",
    summary="Incident timelines as Server-Sent Events (resume with Last-Event-ID)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_incidents(
    request: Request,
    reader: Reader,
    services: ServicesDep,
    last_event_id: Annotated[str | None, Header(max_length=20)] = None,
    since: Annotated[int | None, Query(ge=0, description="resume after this event id")] = None,
) -> StreamingResponse:
    """Every line of every incident's timeline (`event: incident`): reported, dispatched, en
    route, on scene, released, closed. Heard through the process's one notification hub
    (`onemap_incident_changed`); the table is the truth, so a client resumes by id."""
    pool = request.app.state.pool
    heartbeat = request.app.state.settings.sse_heartbeat_s
    cursor = int(last_event_id) if last_event_id and last_event_id.isdigit() else since
    wake = asyncio.Event()
    sub = await services.hub.subscribe(service.CHANNEL, lambda _p: wake.set())

    async def body() -> AsyncIterator[bytes]:
        nonlocal cursor
        try:
            yield b": onemap incident events\nretry: 3000\n\n"
            if cursor is None:
                async with pool.acquire() as conn:
                    cursor = await service.last_event_id(conn)
            while True:
                async with pool.acquire() as conn:
                    batch = await service.events_after(conn, cursor)
                for event in batch:
                    cursor = event["id"]
                    yield _frame(event)
                if batch:
                    continue
                try:
                    async with asyncio.timeout(heartbeat):
                        await wake.wait()
                    wake.clear()
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
        finally:
            services.hub.unsubscribe(sub)

    return StreamingResponse(
        body(),
        media_type="text/event-stream",
        headers={"cache-control": "no-cache", "x-accel-buffering": "no"},
    )
