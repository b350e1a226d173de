"""api.routers.special_periods: holidays and major events (citywide or over an area)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict

from api.deps import GradingDep, Integrator, PoolDep, Reader, SettingsDep
from api.risk_events.common import cancel_early, check_time, iso, regrade_after
from api.risk_events.special_periods import SELECT, PeriodIn, create_period
from api.routers.replies import REPLAYED, created
from api.timestamps import Timestamp, utcnow

router = APIRouter(prefix="/special-periods", tags=["special periods"])

Code = Annotated[str, Path(min_length=1, max_length=128)]

_SELECT = SELECT


class CancelIn(BaseModel):
    """When a period was called off."""

    model_config = ConfigDict(extra="forbid")

    at: Timestamp | None = None


@router.post("", operation_id="createSpecialPeriod", status_code=201, responses=REPLAYED,
             summary="Declare a special period; the units in scope are regraded")  # fmt: skip
async def create(
    body: PeriodIn, who: Integrator, grading: GradingDep, response: Response, pool: PoolDep,
    settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Store the period (it may start later). Sent again with the same code and content:
    the stored period, 200. The same code with other content: 409."""
    async with pool.acquire() as conn, conn.transaction():
        row, units = await create_period(conn, body, who, settings)
    return created({**row, "regrade": await regrade_after(grading, units)}, response)


@router.post("/{code}/cancel", operation_id="cancelSpecialPeriod",
             summary="Call a period off early; the units in scope are regraded")  # fmt: skip
async def cancel(
    code: Code, who: Integrator, grading: GradingDep, pool: PoolDep, settings: SettingsDep,
    body: CancelIn | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Set cancelled_at (the period stays, with its times)."""
    at = check_time((body.at if body else None) or utcnow(), settings, "at")
    async with pool.acquire() as conn, conn.transaction():
        units = await cancel_early(conn, "special_periods", code, at, who)
        out = await conn.fetchrow(_SELECT + " WHERE code = $1", code)
    return {**iso(dict(out)), "regrade": await regrade_after(grading, units)}


@router.get("", operation_id="listSpecialPeriods", summary="Special periods, newest first")
async def list_all(
    reader: Reader,
    pool: PoolDep,
    active: Annotated[bool, Query(description="only those in force now")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Periods with their area (null: citywide)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            _SELECT + " WHERE (NOT $1 OR (starts_at <= now() AND "
            "least(ends_at, cancelled_at) > now())) ORDER BY starts_at DESC LIMIT $2",
            active, limit,
        )  # fmt: skip
    return [iso(dict(r)) for r in rows]
