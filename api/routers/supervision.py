"""api.routers.supervision: per-organisation supervision numbers and the city's ranking."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from api.deps import PoolDep, Reader
from api.organisations import supervision

router = APIRouter(prefix="/stats/organisations", tags=["stats"])

OrgCode = Annotated[str, Path(min_length=2, max_length=32, pattern="^[A-Za-z0-9_.-]+$")]


@router.get("", operation_id="rankOrganisations",
            summary="Departments and districts ranked by their hidden-hazard work")  # fmt: skip
async def ranking(
    who: Reader,
    pool: PoolDep,
    kind: Annotated[
        Literal["department", "district", "zone", "town"] | None,
        Query(description="one kind; default: departments, and districts with zones"),
    ] = None,
) -> dict[str, Any]:
    """Per kind, every organisation with its numbers, ranked (the monthly bulletin's table):
    `departments` and `districts` (districts and development zones together)."""
    async with pool.acquire() as conn:
        return await supervision.ranking(conn, kind)


@router.get("/{code}", operation_id="getOrganisationStats",
            summary="One organisation's dashboard numbers")  # fmt: skip
async def one(code: OrgCode, who: Reader, pool: PoolDep) -> dict[str, Any]:
    """Hidden hazards open, overdue, rectified this month and on time (rate); its risk units
    by level; alarms open on them. 404 for an unknown organisation."""
    async with pool.acquire() as conn:
        return await supervision.one(conn, code)
