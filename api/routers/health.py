"""api.routers.health: liveness (/healthz) and readiness (/readyz)."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from api.migrate import current_revision

router = APIRouter(tags=["health"])


@router.get("/healthz", operation_id="healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    """Always 200 while the process serves requests."""
    return {"status": "ok"}


async def _replica_serves(state: object) -> bool:
    """Whether a read replica answers (a node without its primary still serves reads)."""
    router = getattr(state, "read_pool", None)
    if router is None or not getattr(router, "replicas", None):
        return False
    try:
        async with asyncio.timeout(2):
            return await router.fetchval("SELECT pg_is_in_recovery()") is True
    except Exception:  # noqa: BLE001 - no replica either: not ready
        return False


@router.get(
    "/readyz",
    operation_id="readyz",
    summary="The database is reachable, PostGIS is there and migrations are at head",
    responses={503: {"description": "not ready; the body says why"}},
)
async def readyz(request: Request) -> JSONResponse:
    """200 when the service can answer queries; 503 with the reason otherwise."""
    state = request.app.state
    head = state.migration_head
    body: dict[str, object] = {"status": "ok", "migration_head": head}
    try:
        async with asyncio.timeout(3):
            async with state.pool.acquire() as conn:
                body["postgis"] = await conn.fetchval("SELECT postgis_lib_version()")
                body["migration"] = await current_revision(conn)
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        if await _replica_serves(state):  # primary lost: reads go on from a replica
            return JSONResponse({**body, "status": "read-only", "primary": "unavailable"})
        body.update(status="unavailable", reason=f"database unreachable: {type(exc).__name__}")
        return JSONResponse(body, status_code=503, headers={"Retry-After": "5"})
    if body["migration"] != head:
        body.update(status="unavailable", reason="database is not migrated to head")
        return JSONResponse(body, status_code=503)
    return JSONResponse(body)
