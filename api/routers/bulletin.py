"""api.routers.bulletin: the monthly bulletin of the assessment, as PDF and as XLSX."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from api.assessment import bulletin, framework, scorecard
from api.deps import PoolDep, Reader
from api.errors import NotFound
from api.grading import store

router = APIRouter(tags=["assessment"])

Year = Annotated[int, Path(ge=2000, le=2100, examples=[2026])]
Month = Annotated[
    str,
    Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", examples=["2026-11"],
          description="the month reported on, YYYY-MM, in the year"),
]  # fmt: skip
Snapshot = Annotated[
    int | None, Query(ge=1, le=2**62, description="use this snapshot's frozen scorecard")
]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def _data(pool: Any, year: int, month: str, snapshot: int | None) -> dict[str, Any]:
    async with pool.acquire() as conn, conn.transaction():
        tz = (await store.active_params(conn)).timezone
        if snapshot is not None:
            card = await bulletin.frozen_scorecard(conn, year, snapshot)
        else:
            version = await framework.latest_version(conn)
            if version is None:
                raise NotFound("no framework loaded")
            card = await scorecard.compute(conn, version, year, None)
        return await bulletin.gather(conn, year, month, tz, card, snapshot)


def _file(body: bytes, media_type: str, name: str) -> Response:
    return Response(body, media_type=media_type, headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-cache"})  # fmt: skip


@router.get(
    "/assessment/{year}/bulletin.pdf",
    operation_id="getAssessmentBulletinPdf",
    summary="The monthly bulletin as PDF (scorecard, rankings, charts, red/orange map)",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, 404: {"description": "no snapshot"}},
)
async def bulletin_pdf(
    year: Year, month: Month, who: Reader, pool: PoolDep, snapshot: Snapshot = None
) -> Response:
    """Chinese font embedded; `?snapshot=ID` reports the frozen scorecard."""
    data = await _data(pool, year, month, snapshot)
    body = await asyncio.to_thread(bulletin.pdf, data)
    return _file(body, "application/pdf", f"bulletin-{month}.pdf")


@router.get(
    "/assessment/{year}/bulletin.xlsx",
    operation_id="getAssessmentBulletinXlsx",
    summary="The monthly bulletin as an XLSX workbook (the same figures as the PDF)",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}}, 404: {"description": "no snapshot"}},
)
async def bulletin_xlsx(
    year: Year, month: Month, who: Reader, pool: PoolDep, snapshot: Snapshot = None
) -> Response:
    """Sheets: 总览, 评分, 任务完成率, 隐患超期排名, 红橙单元."""
    data = await _data(pool, year, month, snapshot)
    body = await asyncio.to_thread(bulletin.xlsx, data)
    return _file(body, XLSX, f"bulletin-{month}.xlsx")
