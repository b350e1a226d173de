"""api.routers.weather_warnings: weather warnings in (integrator); the units inside are regraded."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import GradingDep, Integrator, PoolDep, Reader, SettingsDep
from api.incidents import cap
from api.risk_events.common import cancel_early, check_time, iso, regrade_after
from api.risk_events.weather_warnings import SELECT, WarningIn, issue_warning
from api.routers.replies import REPLAYED, created
from api.timestamps import Timestamp, utcnow

router = APIRouter(prefix="/weather-warnings", tags=["weather warnings"])

Code = Annotated[str, Path(min_length=1, max_length=128)]
_SELECT = SELECT


class CancelIn(BaseModel):
    """When a warning was lifted."""

    model_config = ConfigDict(extra="forbid")

    at: Timestamp | None = Field(None, description="default: now")


@router.post("", operation_id="issueWeatherWarning", status_code=201, responses=REPLAYED,
             summary="Issue a weather warning; the units it covers are regraded")  # fmt: skip
async def issue(
    body: WarningIn, who: Integrator, grading: GradingDep, response: Response, pool: PoolDep,
    settings: SettingsDep,
) -> dict[str, Any]:  # fmt: skip
    """Store the warning (it may start later); units inside whose category it concerns move.
    Sent again with the same code and content: the stored warning, 200. The same code with
    other content: 409."""
    async with pool.acquire() as conn, conn.transaction():
        row, units = await issue_warning(conn, body, who, settings)
        await cap.sync(conn, settings)  # orange and red: a CAP alert
    return created({**row, "regrade": await regrade_after(grading, units)}, response)


@router.post("/{code}/cancel", operation_id="cancelWeatherWarning",
             summary="Lift a warning early; the units it covered are regraded")  # fmt: skip
async def cancel(
    code: Code, who: Integrator, grading: GradingDep, pool: PoolDep, settings: SettingsDep,
    body: CancelIn | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Set cancelled_at (the warning stays, with its times)."""
    at = check_time((body.at if body else None) or utcnow(), settings, "at")
    async with pool.acquire() as conn, conn.transaction():
        units = await cancel_early(conn, "weather_warnings", code, at, who)
        await cap.sync(conn, settings)
        out = await conn.fetchrow(_SELECT + " WHERE code = $1", code)
    return {**iso(dict(out)), "regrade": await regrade_after(grading, units)}


@router.get("", operation_id="listWeatherWarnings", summary="Weather warnings, newest first")
async def list_all(
    reader: Reader,
    pool: PoolDep,
    active: Annotated[bool, Query(description="only those valid now")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    """Warnings with their GeoJSON area."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            _SELECT + " WHERE (NOT $1 OR (valid_from <= now() AND "
            "least(valid_to, cancelled_at) > now())) ORDER BY valid_from DESC LIMIT $2",
            active, limit,
        )  # fmt: skip
    return [iso(dict(r)) for r in rows]
