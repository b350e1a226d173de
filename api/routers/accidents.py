"""api.routers.accidents: accidents at risk units (they count for 365 days by grade)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from api import audit
from api.deps import Integrator, PoolDep, Reader, SettingsDep
from api.errors import Conflict
from api.events.common import check_time, iso, regrade_after, unit_row

router = APIRouter(prefix="/accidents", tags=["accidents"])

_SELECT = """
SELECT a.code, a.name, a.district, ru.code AS risk_unit, a.grade, a.occurred_at, a.deaths,
       a.injuries, a.description, a.source, ST_X(a.geom) AS lon, ST_Y(a.geom) AS lat
  FROM accidents a LEFT JOIN risk_units ru ON ru.id = a.risk_unit_id
"""


class AccidentIn(BaseModel):
    """An accident (State Council Decree 493 grades)."""

    model_config = ConfigDict(extra="forbid")

    code: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    risk_unit: Annotated[str, Field(min_length=1, max_length=128, description="unit code")]
    grade: Literal["general", "large", "major", "especially_major"]
    occurred_at: AwareDatetime
    deaths: Annotated[int, Field(ge=0)] = 0
    injuries: Annotated[int, Field(ge=0)] = 0
    description: Annotated[str | None, Field(max_length=4000)] = None
    lon: Annotated[float | None, Field(ge=-180, le=180)] = None
    lat: Annotated[float | None, Field(ge=-90, le=90)] = None


@router.post("", operation_id="recordAccident", status_code=201,
             summary="Record an accident at a risk unit; the unit is regraded")  # fmt: skip
async def record(
    body: AccidentIn, who: Integrator, request: Request, pool: PoolDep, settings: SettingsDep
) -> dict[str, Any]:
    """Store the accident at the unit (or at lon/lat)."""
    check_time(body.occurred_at, settings, "occurred_at")
    async with pool.acquire() as conn, conn.transaction():
        unit = await unit_row(conn, body.risk_unit)
        try:
            await conn.execute(
                "INSERT INTO accidents (code, name, district, risk_unit_id, grade, occurred_at, "
                "deaths, injuries, description, source, geom) VALUES ($1, $2, $3, $4, $5, $6, "
                "$7, $8, $9, $10, CASE WHEN $11::float8 IS NULL THEN ST_GeomFromEWKB($13::bytea) "
                "ELSE ST_SetSRID(ST_MakePoint($11, $12), 4326) END)",
                body.code, body.name, unit["district"], unit["id"], body.grade, body.occurred_at,
                body.deaths, body.injuries, body.description, f"api:{who.name}", body.lon,
                body.lat, unit["point"],
            )  # fmt: skip
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(f"an accident with code {body.code!r} already exists") from exc
        await audit.record(conn, who, "accidents.record", "accidents", [body.code],
                           unit=body.risk_unit, grade=body.grade)  # fmt: skip
        row = await conn.fetchrow(_SELECT + " WHERE a.code = $1", body.code)
    return {**iso(dict(row)), "regrade": await regrade_after(request, {unit["id"]})}


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
