"""api.routers.organisations: the organisations (read-only, city-wide) and per-area figures."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from api import organisations
from api.deps import PoolDep, Reader
from api.errors import NotFound

router = APIRouter(tags=["organisations"])

Kind = Literal["department", "district", "zone", "town"]
OrgCode = Annotated[str, Path(min_length=1, max_length=32, examples=["610113", "YJJ"])]


@router.get(
    "/organisations",
    operation_id="listOrganisations",
    summary="Departments, districts, development zones and towns",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def list_organisations(
    who: Reader,
    pool: PoolDep,
    kind: Annotated[Kind | None, Query(description="only this kind")] = None,
    parent: Annotated[
        str | None,
        Query(min_length=1, max_length=32, description="only children of this organisation"),
    ] = None,
) -> Response:
    """A JSON array (code, name, kind, parent, synthetic, source, bbox), departments first,
    then districts, zones and towns, each by code. Readable by every role."""
    async with pool.acquire() as conn:
        text = await organisations.list_organisations(conn, kind, parent)
    return Response(text, media_type="application/json")


@router.get(
    "/organisations/{code}",
    operation_id="getOrganisation",
    summary="One organisation with its boundary, children, categories and table row",
    response_class=Response,
    responses={
        200: {"content": {"application/geo+json": {}}},
        404: {"description": "no such organisation"},
    },
)
async def get_organisation(code: OrgCode, who: Reader, pool: PoolDep) -> Response:
    """A GeoJSON Feature: the boundary of an area (null for a department), its parent, its
    children, the risk categories a department answers for, and an area's row of the
    seed's table (`statistics`)."""
    async with pool.acquire() as conn:
        text = await organisations.get_organisation(conn, code)
    if text is None:
        raise NotFound(f"no organisation {code!r}")
    return Response(text, media_type="application/geo+json")


@router.get(
    "/stats/areas",
    operation_id="getAreaStats",
    summary="The 20 district-level areas: the seed table's figures beside the live ones",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def area_stats(who: Reader, pool: PoolDep) -> Response:
    """`areas`: per area in the table's order, `table` (the decoded row of
    西安市推进基层应急管理体系和能力建设工作情况统计表) and `live` (towns, depots, stock held by
    the area's own depots, the municipal reserve held in city depots on its ground,
    residents, stock per 1,000 residents, shelters, broadcasts, risk units). `city`: totals."""
    async with pool.acquire() as conn:
        text = await organisations.area_stats(conn)
    return Response(text, media_type="application/json")
