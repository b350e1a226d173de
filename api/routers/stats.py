"""api.routers.stats: the dashboard's numbers per district."""

from __future__ import annotations

from fastapi import APIRouter, Response

from api import codes
from api.deps import Reader, ReadPoolDep
from api.sqlfiles import load

router = APIRouter(prefix="/stats", tags=["stats"])


@router.get(
    "/districts",
    operation_id="getDistrictStats",
    summary="Per district: risk units by level and category, shelters, depots, teams",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def district_stats(who: Reader, pool: ReadPoolDep) -> Response:
    """`districts`: one entry per district (risk units by level — `ungraded` when grading has
    not run — and by category; shelter count, capacity, occupancy and places per resident;
    reserve depots and the items they hold; rescue teams and their people). `city`: the same
    for the whole city, including rows without a district.
    """
    async with pool.acquire() as conn:
        text = await conn.fetchval(
            load("queries/sql/district_stats.sql"),
            ["ungraded", *codes.LEVELS],
            list(codes.CATEGORIES),
        )
    return Response(text, media_type="application/json")
