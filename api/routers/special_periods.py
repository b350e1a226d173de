"""api.routers.special_periods: holidays and major events (citywide or over an area)."""

from __future__ import annotations

from typing import Annotated, Any

import asyncpg
from fastapi import APIRouter, Path, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from api import audit
from api.deps import Integrator, PoolDep, Reader, SettingsDep
from api.errors import Conflict, NotFound
from api.events.common import Area, area_wkb, check_time, iso, regrade_after, units_in
from api.grading.service import utcnow

router = APIRouter(prefix="/special-periods", tags=["special periods"])

Code = Annotated[str, Path(min_length=1, max_length=128)]

_SELECT = """
SELECT code, name, district, starts_at, ends_at, cancelled_at, source,
       geom IS NULL AS citywide, ST_AsGeoJSON(geom, 6)::json AS geometry
  FROM special_periods
"""


class PeriodIn(BaseModel):
    """A time window; without an area it is citywide."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    area: Area | None = Field(None, description="omit for a citywide period")

    @model_validator(mode="after")
    def _order(self) -> PeriodIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class CancelIn(BaseModel):
    """When a period was called off."""

    model_config = ConfigDict(extra="forbid")

    at: AwareDatetime | None = None


@router.post("", operation_id="createSpecialPeriod", status_code=201,
             summary="Declare a special period; the units in scope are regraded")  # fmt: skip
async def create(body: PeriodIn, who: Integrator, request: Request, pool: PoolDep) -> dict:
    """Store the period (it may start later)."""
    async with pool.acquire() as conn, conn.transaction():
        wkb = await area_wkb(conn, body.area) if body.area else None
        try:
            await conn.execute(
                "INSERT INTO special_periods (code, name, starts_at, ends_at, source, geom) "
                "VALUES ($1, $2, $3, $4, $5, ST_GeomFromEWKB($6::bytea))",
                body.code, body.name, body.starts_at, body.ends_at, f"api:{who.name}", wkb,
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"a special period with code {body.code!r} already exists") from exc
        await audit.record(conn, who, "special_periods.create", "special_periods", [body.code],
                           citywide=wkb is None)  # fmt: skip
        units = await units_in(conn, wkb)
        row = await conn.fetchrow(_SELECT + " WHERE code = $1", body.code)
    return {**iso(dict(row)), "regrade": await regrade_after(request, units)}


@router.post("/{code}/cancel", operation_id="cancelSpecialPeriod",
             summary="Call a period off early; the units in scope are regraded")  # fmt: skip
async def cancel(
    code: Code, who: Integrator, request: Request, pool: PoolDep, settings: SettingsDep,
    body: CancelIn | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Set cancelled_at (the period stays, with its times)."""
    at = check_time((body.at if body else None) or utcnow(), settings, "at")
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT starts_at, cancelled_at, ST_AsEWKB(geom) AS wkb FROM special_periods "
            "WHERE code = $1 FOR UPDATE",
            code,
        )
        if row is None:
            raise NotFound(f"no special period with code {code!r}")
        if row["cancelled_at"] is not None:
            raise Conflict(f"special period {code} was already cancelled")
        await conn.execute("UPDATE special_periods SET cancelled_at = $2 WHERE code = $1",
                           code, max(at, row["starts_at"]))  # fmt: skip
        await audit.record(conn, who, "special_periods.cancel", "special_periods", [code])
        units = await units_in(conn, row["wkb"])
        out = await conn.fetchrow(_SELECT + " WHERE code = $1", code)
    return {**iso(dict(out)), "regrade": await regrade_after(request, units)}


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
