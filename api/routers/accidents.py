"""api.routers.accidents: accidents at risk units (they count for 365 days by grade)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.deps import GradingDep, Integrator, PoolDep, Reader, SettingsDep
from api.editing import scope
from api.risk_events.accidents import SELECT, AccidentIn, record_accident
from api.risk_events.common import iso, regrade_after
from api.routers.replies import REPLAYED, created

router = APIRouter(prefix="/accidents", tags=["accidents"])

_SELECT = SELECT


@router.post("", operation_id="recordAccident", status_code=201, responses=REPLAYED,
             summary="Record an accident at a risk unit; the unit is regraded")  # fmt: skip
async def record(
    body: AccidentIn, who: Integrator, grading: GradingDep, response: Response, pool: PoolDep,
    settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Store the accident at the unit (or at lon/lat). Sent again with the same code and
    content: the stored accident, 200. The same code with other content: 409."""
    async with pool.acquire() as conn, conn.transaction():
        await scope.begin(conn, who, "edit")  # who (RLS: the write is scoped in the service)
        row, units = await record_accident(conn, body, who, settings)
    return created({**row, "regrade": await regrade_after(grading, units)}, response)


@router.get("", operation_id="listAccidents", summary="Accidents, newest first")
async def list_all(
    reader: Reader,
    pool: PoolDep,
    unit: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Accidents, optionally of one unit."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            _SELECT + " WHERE ($1::text IS NULL OR ru.code = $1) "
            "ORDER BY a.occurred_at DESC LIMIT $2",
            unit, limit,
        )  # fmt: skip
    return [iso(dict(r)) for r in rows]
