"""api.routers.assessment: the assessment frameworks, the live scorecard and its snapshots."""

from __future__ import annotations

import json
from typing import Annotated

import asyncpg
from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.assessment import framework, scorecard
from api.deps import Admin, PoolDep, Reader
from api.errors import NotFound

router = APIRouter(tags=["assessment"])

Version = Annotated[str, Path(pattern=r"^[0-9A-Za-z._-]{1,32}$", examples=["2019"])]
Year = Annotated[int, Path(ge=2000, le=2100, examples=[2026])]
OrgQuery = Annotated[
    str | None, Query(min_length=1, max_length=32, description="one organisation's share")
]


class SnapshotBody(BaseModel):
    """What to freeze: the whole scorecard, or one organisation's share."""

    model_config = ConfigDict(extra="forbid")
    org: str | None = Field(default=None, min_length=1, max_length=32)


@router.get(
    "/assessment/frameworks",
    operation_id="listAssessmentFrameworks",
    summary="The loaded assessment frameworks (editions)",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}},
)
async def list_frameworks(who: Reader, pool: PoolDep) -> Response:
    """Each edition with its sources and how many items per level were found in them."""
    async with pool.acquire() as conn:
        text = await framework.list_frameworks(conn)
    return Response(text, media_type="application/json")


@router.get(
    "/assessment/frameworks/{version}",
    operation_id="getAssessmentFramework",
    summary="One framework edition with every item, its rule, text and source",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 404: {"description": "unknown"}},
)
async def get_framework(version: Version, who: Reader, pool: PoolDep) -> Response:
    """Items flat (parent gives the tree); `found: false` marks an item whose text was not found."""
    async with pool.acquire() as conn:
        text = await framework.get_framework(conn, version)
    if text is None:
        raise NotFound(f"no framework {version!r}")
    return Response(text, media_type="application/json")


async def _card(conn: asyncpg.Connection, year: int, org: str | None) -> dict[str, object]:
    """The live scorecard of the newest edition; 404 for an unknown organisation."""
    if org is not None and not await conn.fetchval(
        "SELECT 1 FROM organisations WHERE code = $1", org
    ):
        raise NotFound(f"no organisation {org!r}")
    version = await framework.latest_version(conn)
    if version is None:
        raise NotFound("no framework loaded")
    return await scorecard.compute(conn, version, year, org)


@router.get(
    "/assessment/{year}/scorecard",
    operation_id="getAssessmentScorecard",
    summary="The live scorecard: total, every item's score and maximum as decimal strings",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 404: {"description": "unknown org"}},
)
async def get_scorecard(year: Year, who: Reader, pool: PoolDep, org: OrgQuery = None) -> Response:
    """Each item's score is the sum of its children's; auto items carry their basis."""
    async with pool.acquire() as conn:
        card = await _card(conn, year, org)
    return Response(json.dumps(card, ensure_ascii=False), media_type="application/json")


@router.post(
    "/assessment/{year}/snapshots",
    operation_id="createAssessmentSnapshot",
    summary="Freeze the scorecard (immutable, with its digest)",
    status_code=201,
    response_class=Response,
    responses={201: {"content": {"application/json": {}}}, 404: {"description": "unknown org"}},
)
async def create_snapshot(
    year: Year, who: Admin, pool: PoolDep, body: SnapshotBody | None = None
) -> Response:
    """The snapshot: id, digest (sha256 of the canonical scorecard JSON) and the scorecard."""
    org = body.org if body else None
    async with pool.acquire() as conn, conn.transaction():
        card = await _card(conn, year, org)
        text = await scorecard.snapshot(conn, card, org, who.name)
    return Response(text, status_code=201, media_type="application/json")


@router.get(
    "/assessment/{year}/snapshots/{snapshot_id}",
    operation_id="getAssessmentSnapshot",
    summary="One frozen scorecard",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}}, 404: {"description": "unknown"}},
)
async def get_snapshot(
    year: Year,
    snapshot_id: Annotated[int, Path(ge=1, le=2**62)],
    who: Reader,
    pool: PoolDep,
) -> Response:
    """The snapshot exactly as it was frozen."""
    async with pool.acquire() as conn:
        text = await scorecard.get_snapshot(conn, year, snapshot_id)
    if text is None:
        raise NotFound(f"no snapshot {snapshot_id} for {year}")
    return Response(text, media_type="application/json")
