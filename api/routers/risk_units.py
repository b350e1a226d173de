"""api.routers.risk_units: one risk unit with its attributes, current grade and related records."""

from __future__ import annotations

import functools
from typing import Annotated

from fastapi import APIRouter, Path, Response

from api import codes
from api.analysis import parts
from api.deps import PoolDep, Reader
from api.errors import NotFound
from api.sqlfiles import render

router = APIRouter(prefix="/risk-units", tags=["risk units"])


@functools.cache
def _statement() -> str:
    return render("queries/sql/risk_unit.sql", props=parts.props("risk_units", bookkeeping=True))


@router.get(
    "/{code}",
    operation_id="getRiskUnit",
    summary="One risk unit: attributes, geometry, current grade, related records",
    response_class=Response,
    responses={200: {"content": {"application/geo+json": {}}}, 404: {"description": "no unit"}},
)
async def get_risk_unit(
    code: Annotated[str, Path(max_length=200, examples=["RU-0001"])], who: Reader, pool: PoolDep
) -> Response:
    """A GeoJSON Feature. `grade` is the level written by dynamic grading (level, colour, R,
    when it changed); its explanation and history are at `/risk-units/{code}/grade` and
    `/risk-units/{code}/grade/history`. `related` counts the unit's monitoring points, active
    alarms, unclosed hidden hazards and accidents of the last 365 days.
    """
    async with pool.acquire() as conn:
        text = await conn.fetchval(_statement(), code, codes.LEVEL_COLOURS)
    if text is None:
        raise NotFound(f"no risk unit {code!r}")
    return Response(text, media_type="application/geo+json")
